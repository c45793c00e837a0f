/**
 * Attribution on the real recorded H200 session (server/recordings/h200-serving.jsonl): every record goes
 * through the tracker in order, a frame is taken when one is due, and the frames must add up, name the
 * weights the process reported, and show the fragmentation that preceded the out-of-memory error.
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseSidecarLine } from '../../../server/torch/sidecar.ts';
import { readRecording } from '../../../server/recording/reader.ts';
import { AttributionTracker } from '../../../server/attribution/tracker.ts';
import { attribute, ATTRIBUTION_SEGMENTS, matchRow, type AttributionFrame, type TorchProcessState } from '../../../shared/attribution.ts';
import type { DataRecord, GpuProcess, GpuSample, TorchSample } from '../../../shared/data.ts';
import { GiB, MiB } from '../../../shared/units.ts';
import { BUNDLED_RECORDING } from '../../support/paths.ts';

let records: DataRecord[];
let frames: AttributionFrame[];
let oomT: number;

function run(rs: DataRecord[]): AttributionFrame[] {
  const tracker = new AttributionTracker();
  const out: AttributionFrame[] = [];
  for (const r of rs) if (tracker.ingest(r)) out.push(tracker.frame());
  return out;
}

beforeAll(async () => {
  records = (await readRecording(BUNDLED_RECORDING)).records;
  frames = run(records);
  oomT = records.find((r) => r.kind === 'torchEvent' && r.event.kind === 'oom')!.t;
});

const gpu0 = (f: AttributionFrame) => f.gpus[0]!;
const proc = (f: AttributionFrame, pid: number) => gpu0(f).processes.find((p) => p.pid === pid);

describe('attribution of the recorded H200 serving session', () => {
  it('produces one frame per GPU tick, and every frame adds up to what nvidia-smi measured', () => {
    expect(frames.length).toBe(records.filter((r) => r.kind === 'gpu').length);
    let checked = 0;
    for (const f of frames) {
      const g = gpu0(f);
      const parts = ATTRIBUTION_SEGMENTS.map(([k]) => g[k]);
      if (parts.some((p) => p === null)) continue;
      const total = (parts as number[]).reduce((a, b) => a + b, 0);
      expect(total - g.skewBytes).toBe(g.usedBytes! + g.driverReservedBytes! + g.freeBytes!);
      expect(Math.abs(total - g.skewBytes - g.totalBytes!)).toBeLessThanOrEqual(2 * 1024 * 1024); // nvidia-smi rounds to MiB
      checked++;
    }
    expect(checked).toBeGreaterThan(400);
  });

  it('attributes the weights each process reported, and its CUDA context as non-PyTorch', () => {
    const serving = frames.filter((f) => f.timestampMs > oomT - 13_000 && f.timestampMs < oomT - 5000);
    expect(serving.length).toBeGreaterThan(20);
    for (const f of serving) {
      expect(proc(f, 423)).toMatchObject({ weightsBytes: 16060522496, weightsReported: true, match: 'only-gpu', kvCacheReported: false });
      expect(proc(f, 964)).toMatchObject({ weightsBytes: 988065536 });
      const nonTorch = proc(f, 423)!.nonTorchBytes!;
      expect(nonTorch).toBeGreaterThan(0.5 * GiB); // formats: used − reserved ≈ 0.65–0.78 GiB on this stack
      expect(nonTorch).toBeLessThan(1.5 * GiB);
    }
    expect(gpu0(serving[0]!).weightsBytes).toBe(16060522496 + 988065536);
  });

  it('shows the fragmentation that preceded the OOM: tens of GiB cached by PyTorch but free', () => {
    const before = frames.filter((f) => f.timestampMs >= oomT - 1000 && f.timestampMs < oomT);
    expect(before.length).toBeGreaterThan(2);
    const worst = Math.max(...before.map((f) => gpu0(f).torchCachedFreeBytes!));
    expect(worst).toBeGreaterThan(39 * GiB); // 108.2 GiB reserved, 69.0 GiB allocated
    expect(Math.max(...before.map((f) => proc(f, 423)!.inactiveSplitBytes!))).toBeGreaterThan(30 * GiB);
    expect(Math.min(...before.map((f) => gpu0(f).freeBytes!))).toBeLessThan(4 * GiB);
    // Ten seconds earlier the cache held little free memory.
    const calm = frames.filter((f) => f.timestampMs > oomT - 12_000 && f.timestampMs < oomT - 8000);
    expect(Math.max(...calm.map((f) => gpu0(f).torchCachedFreeBytes!))).toBeLessThan(12 * GiB);
  });

  it('carries the OOM and phases as markers, with PyTorch\'s message', () => {
    const markers = frames.flatMap((f) => f.markers);
    const oom = markers.find((m) => m.kind === 'oom')!;
    expect(oom).toMatchObject({ pid: 423, label: 'OOM', timestampMs: oomT });
    expect(oom.message).toContain('42.23 GiB is reserved by PyTorch but unallocated');
    expect(markers.filter((m) => m.kind === 'phase').map((m) => m.label)).toEqual(
      expect.arrayContaining(['cuda_init', 'load_weights', 'serving', 'profiling', 'shutdown']),
    );
    expect(markers.some((m) => m.kind === 'request_start')).toBe(false);
  });

  it('streams PyTorch processes that nvidia-smi does not list (another PID namespace) as unattributed', () => {
    const noRows = run(records.map((r) => (r.kind === 'processes' ? { ...r, processes: [] } : r)));
    const f = noRows.find((x) => x.timestampMs > oomT - 5000)!;
    expect(gpu0(f).processes).toEqual([]);
    expect(f.unattributed.map((p) => p.pid).sort()).toEqual([423, 964]);
    expect(f.unattributed[0]).toMatchObject({ match: 'none', usedBytes: null, nonTorchBytes: null, gpuUuid: null });
    expect(gpu0(f).otherProcessesBytes).toBe(gpu0(f).usedBytes); // everything used is someone else's, as far as we can tell
  });
});

describe('matching a PyTorch process to nvidia-smi rows', () => {
  const gpu = (index: number, uuid: string): GpuSample =>
    ({ timestampMs: 1, index, uuid, name: null, busId: null, totalBytes: 100, reservedBytes: 1, usedBytes: 60, freeBytes: 39, utilizationGpuPercent: null, utilizationMemoryPercent: null, temperatureC: null, powerDrawW: null, powerLimitW: null, pstate: null, health: 'ok' });
  const row = (pid: number, gpuUuid: string, usedBytes: number): GpuProcess => ({ pid, name: 'python', usedBytes, gpuUuid });
  const state = (device: number, uuid: string | null, a = 10, r = 20): TorchProcessState => ({
    sample: { timestampMs: 1, pid: 7, device, uuid, phase: null, allocatedBytes: a, reservedBytes: r, activeBytes: null, inactiveSplitBytes: null, peakAllocatedBytes: null, numAllocRetries: null, numOoms: null } as TorchSample,
    weightsBytes: 6,
    kvCacheBytes: 8,
  });
  const gpus = [gpu(0, 'GPU-a'), gpu(1, 'GPU-b')];
  const rows = [row(7, 'GPU-a', 25), row(7, 'GPU-b', 30)];

  it('joins by UUID first, then by the only GPU, then by index', () => {
    expect(matchRow(state(0, 'GPU-b'), rows, gpus)).toMatchObject({ match: 'uuid', row: { gpuUuid: 'GPU-b' } });
    expect(matchRow(state(3, null), [rows[0]!], gpus)).toMatchObject({ match: 'only-gpu', row: { gpuUuid: 'GPU-a' } });
    expect(matchRow(state(1, null), rows, gpus)).toMatchObject({ match: 'index', row: { gpuUuid: 'GPU-b' } });
    expect(matchRow(state(0, 'GPU-b'), [rows[0]!], gpus)).toMatchObject({ match: 'none', row: null }); // not on that GPU
    expect(matchRow(state(0, 'GPU-spelled-otherwise'), rows, gpus)).toMatchObject({ match: 'index', row: { gpuUuid: 'GPU-a' } });
  });

  it('clamps KV to what is allocated beyond the weights, and reports skew instead of a negative', () => {
    const f = attribute({ timestampMs: 1, gpus, processes: rows, torch: [state(0, 'GPU-a'), { ...state(1, 'GPU-b', 10, 70) }] });
    expect(f.gpus[0]).toMatchObject({ weightsBytes: 6, kvCacheBytes: 4, otherTorchBytes: 0, torchCachedFreeBytes: 10, nonTorchBytes: 5, otherProcessesBytes: 35, skewBytes: 0 });
    expect(f.gpus[1]).toMatchObject({ otherProcessesBytes: 0, skewBytes: 10 }); // reserved 70 > GPU used 60
  });
});

/** The real H200 run of server/integrations/pytorch/examples/llama_inference.py (see fixtures/h200-hook-run). */
describe('attribution of the real hook run on an H200', () => {
  const RUN = new URL('./fixtures/h200-hook-run/', import.meta.url).pathname;
  interface Moment { name: string; start_ts: number; pid: number; torch: { allocated: number; reserved: number; inactive_split: number }; smi: { uuid: string; total_mib: number; reserved_mib: number; used_mib: number; free_mib: number; apps: { pid: string; used_mib: string; uuid: string }[] } }
  const moments = readFileSync(`${RUN}moments.jsonl`, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Moment);
  const at = (name: string): Moment => moments.find((m) => m.name === name)!;
  const mib = (x: number | string): number => Number(x) * MiB;
  function recordsAt(m: Moment, appsFrom: Moment = m): DataRecord[] {
    const t = Math.round(m.start_ts * 1000);
    const gpu = { timestampMs: t, index: 0, uuid: m.smi.uuid, name: 'NVIDIA H200', busId: null, totalBytes: mib(m.smi.total_mib), reservedBytes: mib(m.smi.reserved_mib), usedBytes: mib(m.smi.used_mib), freeBytes: mib(m.smi.free_mib), utilizationGpuPercent: null, utilizationMemoryPercent: null, temperatureC: null, powerDrawW: null, powerLimitW: null, pstate: null, health: 'ok' as const };
    const sample: TorchSample = { timestampMs: t, pid: m.pid, device: 0, uuid: m.smi.uuid, phase: null, allocatedBytes: m.torch.allocated, reservedBytes: m.torch.reserved, activeBytes: null, inactiveSplitBytes: m.torch.inactive_split, peakAllocatedBytes: null, numAllocRetries: null, numOoms: null };
    return [
      { kind: 'processes', t, processes: appsFrom.smi.apps.map((a) => ({ pid: Number(a.pid), name: 'python3', usedBytes: mib(a.used_mib), gpuUuid: a.uuid })) },
      { kind: 'torch', t, sample },
      { kind: 'gpu', t, gpus: [gpu] },
    ];
  }

  it('takes the measured numbers when all sources agree, as at each moment of the run', () => {
    for (const m of moments) {
      const f = run(recordsAt(m)).at(-1)!;
      const p = f.gpus[0]!.processes[0]!;
      expect(p).toMatchObject({ match: 'uuid', nonTorchSource: 'measured', nonTorchBytes: mib(m.smi.apps[0]!.used_mib) - m.torch.reserved });
      expect(p.nonTorchBytes!).toBeGreaterThan(0.5 * GiB);
      expect(f.gpus[0]!.skewBytes).toBe(0);
    }
  });

  it('holds the non-PyTorch part when the process row is stale (after empty_cache it still said 102258 MiB)', () => {
    const tracker = new AttributionTracker();
    const frames: AttributionFrame[] = [];
    for (const r of [...recordsAt(at('after_oom')), ...recordsAt(at('after_cache_release'), at('after_oom'))]) if (tracker.ingest(r) && r.kind === 'gpu') frames.push(tracker.frame());
    const [before, after] = frames as [AttributionFrame, AttributionFrame];
    const held = before.gpus[0]!.processes[0]!.nonTorchBytes;
    expect(before.gpus[0]!.torchCachedFreeBytes! / GiB).toBeCloseTo(84.19, 2);
    expect(after.gpus[0]!.processes[0]).toMatchObject({ nonTorchSource: 'held', nonTorchBytes: held });
    expect(after.gpus[0]).toMatchObject({ skewBytes: 0, torchCachedFreeBytes: 16229859328 - 16094340096 });
    expect(after.gpus[0]!.otherProcessesBytes!).toBeLessThan(64 * MiB);
  });

  it('attributes the weights and the KV cache the hook measured, chunk by chunk', () => {
    const tracker = new AttributionTracker();
    const kvSeen: number[] = [];
    for (const line of readFileSync(`${RUN}torch.jsonl`, 'utf8').trim().split('\n')) {
      const parsed = parseSidecarLine(line);
      if (!parsed.ok) throw new Error(parsed.error);
      const { sample, event } = parsed.value;
      if (event) tracker.ingest({ kind: 'torchEvent', t: event.timestampMs, event });
      if (sample && tracker.ingest({ kind: 'torch', t: sample.timestampMs, sample })) {
        const p = tracker.frame().unattributed[0]!;
        if (p.phase === 'prefill' && kvSeen.at(-1) !== p.kvCacheBytes) kvSeen.push(p.kvCacheBytes);
        if (p.phase === 'decode') expect(p.weightsBytes).toBe(16060522496);
      }
    }
    expect(kvSeen.filter((b) => b > 0)).toEqual([1, 2, 3, 4].map((n) => n * GiB));
  });
});
