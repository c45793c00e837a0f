/**
 * Attribution on the real recorded H200 session (server/recordings/h200-serving.jsonl): every record goes
 * through the tracker in order, a frame is taken when one is due, and the frames must add up, name the
 * weights the process reported, and show the fragmentation that preceded the out-of-memory error.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { readRecording } from '../../../server/recording/reader.ts';
import { AttributionTracker } from '../../../server/attribution/tracker.ts';
import { attribute, ATTRIBUTION_SEGMENTS, matchRow, type AttributionFrame, type TorchProcessState } from '../../../shared/attribution.ts';
import type { DataRecord, GpuProcess, GpuSample, TorchSample } from '../../../shared/data.ts';
import { GiB } from '../../../shared/units.ts';
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
