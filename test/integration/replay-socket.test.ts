import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../server/agent.ts';
import { readRecording, } from '../../server/recording/reader.ts';
import type { Recording } from '../../server/recording/format.ts';
import type { HealthResponse } from '../../shared/contract.ts';
import { connectClient, startTestAgent, waitForEvents, type TestSocket } from '../support/agent.ts';
import { BUNDLED_RECORDING } from '../support/paths.ts';

describe('agent in replay mode, over a real socket', () => {
  let agent: Agent;
  let recording: Recording;
  const sockets: TestSocket[] = [];

  beforeAll(async () => {
    recording = await readRecording(BUNDLED_RECORDING);
    agent = await startTestAgent(['--source', 'replay']);
  });
  afterAll(async () => {
    for (const s of sockets) s.close();
    await agent.close();
  });

  it('sends a snapshot on connect, then GPU ticks whose usedBytes equal the recording at those times', async () => {
    const socket = connectClient(agent);
    sockets.push(socket);
    const snapshotP = waitForEvents(socket, 'snapshot');
    const ticksP = waitForEvents(socket, 'gpu', 3);
    const [snapshot] = await snapshotP;
    expect(snapshot?.source).toMatchObject({ kind: 'replay', status: 'running', label: 'Replay of a recorded session on NVIDIA H200 — not live' });
    expect(snapshot?.source.replay?.fileName).toBe('h200-serving.jsonl');
    const offset = snapshot!.source.replay!.offsetMs;

    const byTime = new Map<number, number | null>();
    for (const r of recording.records) if (r.kind === 'gpu') byTime.set(r.t, r.gpus[0]!.usedBytes);

    const ticks = await ticksP;
    expect(ticks).toHaveLength(3);
    for (const tick of ticks) {
      const g = tick.gpus[0]!;
      expect(g.uuid).toBe('GPU-ccae4e7e-d1ae-910a-959f-bd978205491d');
      const recordedT = tick.timestampMs - offset;
      expect(byTime.has(recordedT)).toBe(true);
      expect(g.usedBytes).toBe(byTime.get(recordedT));
    }
    // Ticks arrive in order, about one recorded interval (250 ms) apart.
    expect(ticks[1]!.timestampMs).toBeGreaterThan(ticks[0]!.timestampMs);
  });

  it('includes the bounded history of what was already played in a later snapshot', async () => {
    const socket = connectClient(agent);
    sockets.push(socket);
    const [snapshot] = await waitForEvents(socket, 'snapshot');
    expect(snapshot!.gpus).toHaveLength(1);
    const history = snapshot!.history[0]!;
    expect(history.uuid).toBe(snapshot!.gpus[0]!.uuid);
    expect(history.samples.length).toBeGreaterThanOrEqual(3);
    expect(history.samples.at(-1)).toEqual(snapshot!.gpus[0]);
  });

  it('answers GET /api/health with the source kind and a fresh last sample', async () => {
    const res = await fetch(new URL('/api/health', agent.url));
    expect(res.status).toBe(200);
    const body = (await res.json()) as HealthResponse;
    expect(body.source.kind).toBe('replay');
    expect(body.ok).toBe(true);
    expect(body.gpus).toBe(1);
    expect(body.lastSampleAgeMs).not.toBeNull();
    expect(body.lastSampleAgeMs!).toBeLessThan(2000);
    expect(body.clients).toBeGreaterThanOrEqual(1);
  });

  it('answers unknown API paths with JSON 404', async () => {
    const res = await fetch(new URL('/api/nope', agent.url));
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ ok: false });
  });

  it('answers inventory:refresh through an ack', async () => {
    const socket = connectClient(agent);
    sockets.push(socket);
    await waitForEvents(socket, 'snapshot');
    const result = await socket.timeout(5000).emitWithAck('inventory:refresh');
    expect(result.ok).toBe(true);
  });
});

describe('agent behind a token', () => {
  it('refuses HTTP and sockets without the token, and serves them with it', async () => {
    const agent = await startTestAgent(['--source', 'replay', '--token', 'test-token-1234']);
    try {
      expect((await fetch(new URL('/api/health', agent.url))).status).toBe(401);
      const ok = await fetch(new URL('/api/health', agent.url), { headers: { Authorization: 'Bearer test-token-1234' } });
      expect(ok.status).toBe(200);
      const withQuery = await fetch(new URL('/api/health?token=test-token-1234', agent.url));
      expect(withQuery.headers.get('set-cookie')).toMatch(/headroom_token=test-token-1234; .*HttpOnly/);

      const denied = connectClient(agent);
      const err = await new Promise<Error>((resolve) => denied.on('connect_error', resolve));
      expect(err.message).toBe('access token required');
      denied.close();

      const allowed = connectClient(agent, { token: 'test-token-1234' });
      const [snapshot] = await waitForEvents(allowed, 'snapshot');
      expect(snapshot!.source.kind).toBe('replay');
      allowed.close();
    } finally {
      await agent.close();
    }
  });
});
