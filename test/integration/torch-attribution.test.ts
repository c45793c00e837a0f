/**
 * Attribution through a real agent and socket: the replay of the recorded H200 session must show the
 * fragmentation before its OOM, and a PyTorch log followed with --torch-log (plus a trace dropped into
 * --torch-trace-dir) must reach the browser's socket, unattributed when nvidia-smi lists no such process.
 */
import { appendFileSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Agent } from '../../server/agent.ts';
import type { AttributionFrame } from '../../shared/attribution.ts';
import type { TorchEvent } from '../../shared/data.ts';
import { GiB } from '../../shared/units.ts';
import { connectClient, startTestAgent, type TestSocket, waitForEvents } from '../support/agent.ts';
import { FIXTURES } from '../support/paths.ts';

let agent: Agent | null = null;
let sockets: TestSocket[] = [];
let dir: string | null = null;
afterEach(async () => {
  for (const s of sockets) s.close();
  sockets = [];
  await agent?.close();
  agent = null;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = null;
});

function firstFrame(socket: TestSocket, pred: (f: AttributionFrame) => boolean, timeoutMs = 25_000): Promise<AttributionFrame> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no matching attribution frame arrived')), timeoutMs);
    const on = (f: AttributionFrame): void => {
      if (!pred(f)) return;
      clearTimeout(timer);
      socket.off('attribution', on);
      resolve(f);
    };
    socket.on('attribution', on);
  });
}

describe('attribution over the socket', () => {
  it('replays the recorded session with the fragmentation before its OOM, and keeps it for new clients', async () => {
    agent = await startTestAgent(['--source', 'replay', '--replay-speed', '20']);
    const socket = connectClient(agent);
    sockets.push(socket);
    const oomFrame = await firstFrame(socket, (f) => f.markers.some((m) => m.kind === 'oom'));
    const gpu = oomFrame.gpus[0]!;
    const p = gpu.processes.find((x) => x.pid === 423)!;
    // PyTorch's own message: "57.01 GiB is allocated by PyTorch, and 42.23 GiB is reserved by PyTorch but unallocated".
    expect(p.allocatedBytes / GiB).toBeCloseTo(57.01, 1);
    expect(p.torchCachedFreeBytes / GiB).toBeCloseTo(42.23, 1);
    expect(p.inactiveSplitBytes! / GiB).toBeCloseTo(42.23, 1);
    expect(gpu.torchCachedFreeBytes!).toBeGreaterThan(42 * GiB);
    expect(gpu.weightsBytes).toBe(16060522496 + 988065536);
    expect(oomFrame.markers.find((m) => m.kind === 'oom')!.message).toMatch(/^CUDA out of memory/);

    const late = connectClient(agent);
    sockets.push(late);
    const [snapshot] = await waitForEvents(late, 'snapshot');
    expect(snapshot!.attribution.latest?.gpus[0]?.uuid).toBe(gpu.uuid);
    expect(snapshot!.attribution.markers.some((m) => m.kind === 'oom')).toBe(true);
  });

  it('follows --torch-log and --torch-trace-dir: unlisted processes are streamed as unattributed', async () => {
    dir = mkdtempSync(join(tmpdir(), 'headroom-attr-'));
    const log = join(dir, 'torch.jsonl');
    const traces = join(dir, 'traces');
    writeFileSync(log, `${JSON.stringify({ v: 1, ts: 1, pid: 99999, device: 0, allocated: 1, reserved: 1 })}\n`); // history: skipped
    mkdirSync(traces);
    agent = await startTestAgent(['--source', 'replay', '--torch-log', log, '--torch-trace-dir', traces]);
    const socket = connectClient(agent);
    sockets.push(socket);
    await waitForEvents(socket, 'snapshot');
    const frame = firstFrame(socket, (f) => f.unattributed.some((p) => p.pid === 4242 && p.weightsReported));
    const now = Date.now() / 1000;
    appendFileSync(log, `${JSON.stringify({ v: 1, ts: now, pid: 4242, device: 0, uuid: 'GPU-not-here', phase: 'prefill', allocated: 3 * GiB, reserved: 5 * GiB, inactive_split: GiB })}\n`);
    appendFileSync(log, `${JSON.stringify({ v: 1, ts: now, pid: 4242, device: 0, event: { kind: 'weights', total_bytes: 2 * GiB, bytes_by_dtype: { bfloat16: 2 * GiB } } })}\n`);
    appendFileSync(log, `${JSON.stringify({ v: 1, ts: now + 0.1, pid: 4242, device: 0, phase: 'prefill', allocated: 3 * GiB, reserved: 5 * GiB })}\n`);
    const f = await frame;
    expect(f.unattributed.find((p) => p.pid === 4242)).toMatchObject({ match: 'none', phase: 'prefill', allocatedBytes: 3 * GiB, weightsBytes: 2 * GiB, otherTorchBytes: GiB, torchCachedFreeBytes: 2 * GiB });

    const traceEvent = new Promise<TorchEvent>((resolve) => {
      socket.on('torchEvent', (e) => {
        if (e.kind === 'profiler_trace') resolve(e);
      });
    });
    copyFileSync(`${FIXTURES}torch-profiler/tb_infer0.1795234719856918743.pt.trace.json.gz`, join(traces, 'infer0.1795234719856918743.pt.trace.json.gz'));
    expect(await traceEvent).toMatchObject({ pid: 1636, device: 0, facts: { memory_events: 1548 - (await cpuCount()) } });
  });
});

async function cpuCount(): Promise<number> {
  const { parseTraceFile } = await import('../../server/torch/trace.ts');
  return (await parseTraceFile(`${FIXTURES}torch-profiler/tb_infer0.1795234719856918743.pt.trace.json.gz`)).cpuMemoryEvents;
}
