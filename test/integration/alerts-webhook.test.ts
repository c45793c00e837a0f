/**
 * Alerts end to end through a real agent: a real HTTP receiver on loopback gets exactly one firing and one
 * resolved per episode (replay of the real session, and flapping synthetic input); receivers that hang or
 * answer 500 do not stall sampling, and their failures are shown in GET /api/alerts and over the socket.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Agent } from '../../server/agent.ts';
import type { GpuSource, SourceSink } from '../../server/sources/types.ts';
import { AlertEventSchema, type AlertEvent, type AlertsSnapshot } from '../../shared/alerts.ts';
import { GiB } from '../../shared/units.ts';
import { connectClient, startTestAgent, waitForEvents, type TestSocket } from '../support/agent.ts';

interface Receiver {
  url: string;
  bodies: unknown[];
  hits: number;
  close(): Promise<void>;
}

/** A webhook receiver on 127.0.0.1: `answer` decides what each request gets (null: never answer). */
async function receiver(answer: (req: IncomingMessage) => number | null = () => 200): Promise<Receiver> {
  const bodies: unknown[] = [];
  const hanging: ServerResponse[] = [];
  const r = { hits: 0 } as Receiver;
  const server: Server = createServer((req, res) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (text += c));
    req.on('end', () => {
      r.hits++;
      const status = answer(req);
      if (status === null) return void hanging.push(res);
      if (status === 200) bodies.push(JSON.parse(text));
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return Object.assign(r, {
    url: `http://127.0.0.1:${port}/hook`,
    bodies,
    close: () => new Promise<void>((resolve) => {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  });
}

async function until(what: string, ok: () => boolean, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function perEpisode(events: AlertEvent[]): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const e of events) m.set(e.alert.id, [...(m.get(e.alert.id) ?? []), e.transition]);
  return m;
}

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'headroom-alerts-it-'));
}

describe('alerts over webhooks, the socket, the API and the log', () => {
  it('delivers one firing and one resolved per episode of the real session, JSON and Slack payloads', async () => {
    const json = await receiver();
    const slack = await receiver();
    cleanup.push(() => json.close(), () => slack.close());
    const dir = tmp();
    const configFile = join(dir, 'headroom.json');
    writeFileSync(configFile, JSON.stringify({ alerts: { webhooks: [{ url: `${slack.url}?token=secret-in-query`, format: 'slack' }] } }));
    const agent: Agent = await startTestAgent(['--source', 'replay', '--replay-speed', '20', '--config', configFile, '--webhook', json.url, '--alert-log', join(dir, 'alerts.jsonl')]);
    cleanup.push(() => agent.close());
    const socket: TestSocket = connectClient(agent);
    cleanup.push(() => void socket.close());
    const socketEvents: AlertEvent[] = [];
    socket.on('alert', (e) => socketEvents.push(e));
    await waitForEvents(socket, 'snapshot');

    // Loop 1 of the replay: forecast, fragmentation (escalated) and OOM episodes, all resolved by ~6.1 s.
    const received = (): AlertEvent[] => json.bodies.map((b) => AlertEventSchema.parse(b));
    await until('three resolved alerts', () => received().filter((e) => e.transition === 'resolved').length >= 3);
    const episodes = perEpisode(received());
    expect([...episodes.values()].map((t) => t.filter((x) => x !== 'escalated'))).toEqual([['firing', 'resolved'], ['firing', 'resolved'], ['firing', 'resolved']]);
    expect([...episodes.keys()].map((id) => id.split('@')[0]).sort()).toEqual(['forecast:request:423', 'fragmentation:423', 'oom:423']);
    expect((json.bodies[0] as { source: string }).source).toBe('headroom');

    await until('the Slack receiver', () => slack.bodies.length >= json.bodies.length);
    expect(slack.bodies.every((b) => typeof (b as { text: unknown }).text === 'string')).toBe(true);
    expect((slack.bodies[0] as { text: string }).text).toMatch(/^🔴 \*\[FIRING\] critical forecast\* on .*: pid 423 on GPU 0: request 20/);

    // The same changes reached the socket, the API and the log.
    // The socket also gets `updated` (the OOM message arriving after the OOM fired), which webhooks do not.
    const notified = (): AlertEvent[] => socketEvents.filter((e) => e.transition !== 'updated');
    await until('socket events', () => notified().length >= json.bodies.length);
    expect(notified().slice(0, json.bodies.length).map((e) => `${e.transition} ${e.alert.id}`)).toEqual(received().map((e) => `${e.transition} ${e.alert.id}`));
    expect(socketEvents.filter((e) => e.transition === 'updated').map((e) => e.alert.key)).toEqual(['oom:423']);
    const api = (await (await fetch(new URL('/api/alerts', agent.url))).json()) as AlertsSnapshot;
    expect(api.recent.slice(0, 3).map((a) => a.state)).toEqual(['resolved', 'resolved', 'resolved']);
    expect(api.logFile).toBe('alerts.jsonl');
    expect(api.webhooks.map((w) => [w.target, w.format, w.failed])).toEqual([
      [`${slack.url}`, 'slack', 0],
      [json.url, 'json', 0],
    ]);
    await agent.alerts.close();
    const logged = readFileSync(join(dir, 'alerts.jsonl'), 'utf8').trim().split('\n').map((l) => AlertEventSchema.parse(JSON.parse(l)));
    expect(logged.map((e) => e.alert.id)).toEqual(expect.arrayContaining([...episodes.keys()]));
  });

  it('keeps sampling while one receiver hangs and another answers 500, and shows both failures', async () => {
    const hang = await receiver(() => null);
    const fail = await receiver(() => 500);
    cleanup.push(() => hang.close(), () => fail.close());
    const dir = tmp();
    const configFile = join(dir, 'headroom.json');
    writeFileSync(configFile, JSON.stringify({ alerts: { webhooks: [{ url: hang.url, timeoutMs: 300, maxAttempts: 2 }, { url: fail.url, timeoutMs: 300, maxAttempts: 2 }] } }));
    const agent = await startTestAgent(['--source', 'replay', '--replay-speed', '20', '--config', configFile]);
    cleanup.push(() => agent.close());
    const socket = connectClient(agent);
    cleanup.push(() => void socket.close());
    await waitForEvents(socket, 'snapshot');
    const [firstAlert] = await waitForEvents(socket, 'alert', 1, 15_000);
    expect(firstAlert!.transition).toBe('firing');
    // While deliveries time out and fail, GPU ticks keep coming at the replay's pace (250 ms / 20).
    const ticks = await waitForEvents(socket, 'gpu', 20, 5_000);
    expect(ticks).toHaveLength(20);
    const [delivery] = await waitForEvents(socket, 'alertDelivery', 1, 10_000);
    expect(delivery!.webhooks).toHaveLength(2);
    await until('both failures', () => hang.hits >= 2 && fail.hits >= 2);
    await until('failures in the status', () => agent.alerts.snapshot().webhooks.every((w) => w.failed >= 1), 10_000);
    const api = (await (await fetch(new URL('/api/alerts', agent.url))).json()) as AlertsSnapshot;
    const [h, f] = api.webhooks;
    // The newest error: a given-up event, or the first attempt of the next one.
    expect(h!.lastError).toMatch(/(not delivered after 2 attempts|attempt 1 failed): no answer within 300 ms/);
    expect(f!.lastError).toMatch(/(not delivered after 2 attempts|attempt 1 failed): HTTP 500/);
    const health = (await (await fetch(new URL('/api/health', agent.url))).json()) as { ok: boolean; lastSampleAgeMs: number };
    expect(health.ok).toBe(true);
    expect(health.lastSampleAgeMs).toBeLessThan(2_000);
  });
});

/** A source that plays free-memory fractions, one GPU sample per 50 ms of wall time. */
class ScriptedSource implements GpuSource {
  readonly kind = 'live' as const;
  #timer: NodeJS.Timeout | null = null;
  constructor(readonly script: (elapsedMs: number, n: number) => number | null) {}
  async start(sink: SourceSink): Promise<void> {
    const t0 = Date.now();
    let n = 0;
    sink.state({ kind: 'live', status: 'running', label: 'scripted', message: null, sinceMs: t0, replay: null });
    const total = 80 * GiB;
    const tick = (): void => {
      const fraction = this.script(Date.now() - t0, n++);
      if (fraction !== null) {
        const t = Date.now();
        const free = Math.round(total * fraction);
        sink.record({ kind: 'gpu', t, gpus: [{ timestampMs: t, index: 0, uuid: 'GPU-flap', name: 'Scripted', busId: null, totalBytes: total, reservedBytes: 0, usedBytes: total - free, freeBytes: free, utilizationGpuPercent: null, utilizationMemoryPercent: null, temperatureC: null, powerDrawW: null, powerLimitW: null, pstate: null, health: 'ok' }] });
      }
      this.#timer = setTimeout(tick, 50);
    };
    tick();
  }
  async stop(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
  }
  async refreshInventory(): Promise<null> {
    return null;
  }
}

describe('flapping input', () => {
  it('does not flap alerts: one firing, one resolved', async () => {
    const hook = await receiver();
    cleanup.push(() => hook.close());
    const dir = tmp();
    const configFile = join(dir, 'headroom.json');
    writeFileSync(configFile, JSON.stringify({ alerts: { headroom: { warning: { freeBelowPercent: 10, forMs: 500 }, critical: { freeBelowPercent: 5, forMs: 1_000 } } } }));
    // 0–2 s: 4 % / 6 % on alternate samples (critical never holds 1 s); 2–3.5 s: 9 % / 11 % (inside the
    // hysteresis band); then 50 %.
    const script = (ms: number, n: number): number => (ms < 2_000 ? (n % 2 ? 0.04 : 0.06) : ms < 3_500 ? (n % 2 ? 0.09 : 0.11) : 0.5);
    const agent = await startTestAgent(['--config', configFile, '--webhook', hook.url, '--alert-log', join(dir, 'a.jsonl')], { source: new ScriptedSource(script) });
    cleanup.push(() => agent.close());
    await until('the resolved alert', () => hook.bodies.some((b) => (b as AlertEvent).transition === 'resolved'), 10_000);
    await new Promise((r) => setTimeout(r, 500)); // nothing more may follow
    const got = hook.bodies.map((b) => AlertEventSchema.parse(b));
    expect(got.map((e) => `${e.transition} ${e.alert.severity} ${e.alert.key}`)).toEqual(['firing warning headroom:GPU-flap', 'resolved warning headroom:GPU-flap']);
    expect(got[0]!.alert.evidence.thresholds.warningForMs).toBe(500);
  });
});
