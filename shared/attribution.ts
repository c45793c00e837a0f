/**
 * Memory attribution: what each GPU's measured memory is made of, joining PyTorch's own numbers (per
 * process and device, from the memory log) with nvidia-smi's device and process rows. Pure; the agent runs
 * it live and the dashboard draws its frames.
 *
 * For every GPU, total = weights + KV cache + other PyTorch allocations + PyTorch cached-but-free
 *                      + non-PyTorch in the process + other processes + driver-reserved + free,
 * where, per PyTorch process p on that GPU (allocated A, reserved R, nvidia-smi used U):
 *   weights = min(W, A); KV = min(K, A − weights); other PyTorch = A − weights − KV
 *   (activations, temporaries, and the KV cache when the process reports none);
 *   cached-but-free = R − A (free blocks inside PyTorch's segments: fragmentation when it cannot be reused);
 *   non-PyTorch = U − R (CUDA context, cuBLAS workspaces, NCCL buffers);
 * other processes = GPU used − Σ (R + non-PyTorch) over attributed processes; driver-reserved and free are
 * nvidia-smi's.
 *
 * The inputs are sampled at different instants: PyTorch every 100 ms, the GPU row every 100–250 ms, process
 * rows only every 0.5–1 s. A stale process row (say, from before `empty_cache()`) would make U − R absurd,
 * so U − R is taken only when it is plausible (0 ≤ U − R ≤ GPU used − Σ R); otherwise the process's last
 * plausible value is held (`nonTorchSource: 'held'`: a CUDA context barely changes). When the parts still
 * exceed what nvidia-smi shows as used (the GPU row lags a sudden allocation), `skewBytes` says by how much
 * (other processes is then 0) rather than a negative number.
 */
import type { GpuProcess, GpuSample, TorchEvent, TorchSample } from './data.ts';

/** The segments, bottom to top, with the names the dashboard shows. */
export const ATTRIBUTION_SEGMENTS = [
  ['weightsBytes', 'Weights'],
  ['kvCacheBytes', 'KV cache'],
  ['otherTorchBytes', 'Other PyTorch (activations, temporaries)'],
  ['torchCachedFreeBytes', 'PyTorch cached, free (fragmentation)'],
  ['nonTorchBytes', 'Non-PyTorch in process (CUDA context, libraries)'],
  ['otherProcessesBytes', 'Other processes'],
  ['driverReservedBytes', 'Driver reserved'],
  ['freeBytes', 'Free'],
] as const;
export type AttributionSegment = (typeof ATTRIBUTION_SEGMENTS)[number][0];
export type Segments = Record<AttributionSegment, number | null>;

/** How a PyTorch sample was tied to an nvidia-smi row. */
export type MatchKind = 'uuid' | 'only-gpu' | 'index' | 'none';

/** What the memory log says about one process on one torch device. */
export interface TorchProcessState {
  sample: TorchSample;
  /** Parameter bytes on this device (`weights` event, or a phase's `weight_bytes`); null if never reported. */
  weightsBytes: number | null;
  /** KV-cache bytes on this device now (`kv_cache` event); null if never reported. */
  kvCacheBytes: number | null;
}

export interface ProcessAttribution {
  pid: number;
  device: number;
  /** The GPU it was matched to (null when unattributed). */
  gpuUuid: string | null;
  match: MatchKind;
  name: string | null;
  phase: string | null;
  sampleTimestampMs: number;
  /** nvidia-smi's used memory for this process on this GPU (null when unattributed or not reported). */
  usedBytes: number | null;
  allocatedBytes: number;
  reservedBytes: number;
  weightsBytes: number;
  kvCacheBytes: number;
  kvCacheReported: boolean;
  weightsReported: boolean;
  otherTorchBytes: number;
  torchCachedFreeBytes: number;
  nonTorchBytes: number | null;
  /** 'measured': U − R now; 'held': the last plausible U − R (the process row was stale); null: unknown. */
  nonTorchSource: 'measured' | 'held' | null;
  inactiveSplitBytes: number | null;
  numAllocRetries: number | null;
  numOoms: number | null;
}

export interface GpuAttribution extends Segments {
  timestampMs: number;
  uuid: string;
  index: number;
  name: string | null;
  totalBytes: number | null;
  usedBytes: number | null;
  skewBytes: number;
  processes: ProcessAttribution[];
}

export interface AttributionMarker {
  timestampMs: number;
  pid: number;
  device: number | null;
  kind: string;
  label: string;
  message: string | null;
}

export interface AttributionFrame {
  timestampMs: number;
  gpus: GpuAttribution[];
  /** PyTorch processes that match no nvidia-smi row (another PID namespace, or nvidia-smi absent). */
  unattributed: ProcessAttribution[];
  /** Markers (phases, OOMs, cache releases) since the previous frame. */
  markers: AttributionMarker[];
}

export interface AttributionSnapshot {
  latest: AttributionFrame | null;
  /** Recent markers, oldest first (bounded). */
  markers: AttributionMarker[];
}

/** Event kinds shown as markers. */
export const MARKER_KINDS = new Set(['phase', 'oom', 'empty_cache', 'end', 'start', 'profiler_trace']);

export function markerOf(e: TorchEvent): AttributionMarker | null {
  if (!MARKER_KINDS.has(e.kind)) return null;
  const label = e.kind === 'phase' ? (e.name ?? 'phase') : e.kind === 'oom' ? 'OOM' : e.kind === 'empty_cache' ? 'empty_cache()' : e.kind;
  return { timestampMs: e.timestampMs, pid: e.pid, device: e.device, kind: e.kind, label, message: e.message };
}

const sum = (xs: (number | null)[]): number | null => (xs.some((x) => x === null) ? null : xs.reduce<number>((a, b) => a + (b ?? 0), 0));

/**
 * Split one process's numbers; `row` is its nvidia-smi row (null when unattributed); `maxNonTorch` bounds a
 * plausible U − R (what the GPU shows as used beyond every PyTorch reservation), `heldNonTorch` is the last
 * plausible value.
 */
export function splitProcess(state: TorchProcessState, row: GpuProcess | null, match: MatchKind, maxNonTorch = Infinity, heldNonTorch: number | null = null): ProcessAttribution {
  const s = state.sample;
  const a = s.allocatedBytes;
  const weights = Math.min(state.weightsBytes ?? 0, a);
  const kv = Math.min(state.kvCacheBytes ?? 0, a - weights);
  const used = row?.usedBytes ?? null;
  const measured = used === null ? null : used - s.reservedBytes;
  const plausible = measured !== null && measured >= 0 && measured <= maxNonTorch;
  const nonTorch = row === null ? null : plausible ? measured : heldNonTorch !== null ? heldNonTorch : measured === null ? null : Math.max(0, Math.min(measured, maxNonTorch));
  return {
    pid: s.pid,
    device: s.device,
    gpuUuid: row?.gpuUuid ?? null,
    match,
    name: row?.name ?? null,
    phase: s.phase,
    sampleTimestampMs: s.timestampMs,
    usedBytes: used,
    allocatedBytes: a,
    reservedBytes: s.reservedBytes,
    weightsBytes: weights,
    kvCacheBytes: kv,
    kvCacheReported: state.kvCacheBytes !== null,
    weightsReported: state.weightsBytes !== null,
    otherTorchBytes: a - weights - kv,
    torchCachedFreeBytes: Math.max(0, s.reservedBytes - a),
    nonTorchBytes: nonTorch,
    nonTorchSource: row === null || nonTorch === null ? null : plausible ? 'measured' : 'held',
    inactiveSplitBytes: s.inactiveSplitBytes,
    numAllocRetries: s.numAllocRetries,
    numOoms: s.numOoms,
  };
}

/**
 * Which nvidia-smi row a torch state belongs to: by UUID (when it names a GPU nvidia-smi shows), else the
 * pid's only GPU, else the GPU whose nvidia-smi index equals the torch device index.
 */
export function matchRow(state: TorchProcessState, processes: readonly GpuProcess[], gpus: readonly GpuSample[]): { row: GpuProcess | null; match: MatchKind } {
  const rows = processes.filter((p) => p.pid === state.sample.pid);
  if (rows.length === 0) return { row: null, match: 'none' };
  const uuid = state.sample.uuid;
  if (uuid && gpus.some((g) => g.uuid === uuid)) {
    const row = rows.find((r) => r.gpuUuid === uuid);
    return row ? { row, match: 'uuid' } : { row: null, match: 'none' };
  }
  if (rows.length === 1) return { row: rows[0]!, match: 'only-gpu' };
  const gpu = gpus.find((g) => g.index === state.sample.device);
  const row = gpu ? rows.find((r) => r.gpuUuid === gpu.uuid) : undefined;
  return row ? { row, match: 'index' } : { row: null, match: 'none' };
}

/** Key of a process's held non-PyTorch value. */
export const nonTorchKey = (pid: number, gpuUuid: string): string => `${pid}@${gpuUuid}`;

/** One frame from the newest GPU samples, process rows and PyTorch states. */
export function attribute(input: {
  timestampMs: number;
  gpus: readonly GpuSample[];
  processes: readonly GpuProcess[];
  torch: readonly TorchProcessState[];
  markers?: AttributionMarker[];
  /** Last plausible non-PyTorch bytes per process and GPU (nonTorchKey), used when a process row is stale. */
  heldNonTorch?: ReadonlyMap<string, number>;
}): AttributionFrame {
  const matched = input.torch.map((state) => ({ state, ...matchRow(state, input.processes, input.gpus) }));
  const reservedOn = new Map<string, number>();
  for (const m of matched) if (m.row) reservedOn.set(m.row.gpuUuid, (reservedOn.get(m.row.gpuUuid) ?? 0) + m.state.sample.reservedBytes);
  const byGpu = new Map<string, ProcessAttribution[]>();
  const unattributed: ProcessAttribution[] = [];
  for (const { state, row, match } of matched) {
    const gpu = row ? input.gpus.find((g) => g.uuid === row.gpuUuid) : undefined;
    const cap = gpu?.usedBytes == null ? Infinity : gpu.usedBytes - (reservedOn.get(gpu.uuid) ?? 0);
    const p = splitProcess(state, row, match, cap, row ? (input.heldNonTorch?.get(nonTorchKey(state.sample.pid, row.gpuUuid)) ?? null) : null);
    if (row && gpu) {
      const list = byGpu.get(row.gpuUuid) ?? [];
      if (!list.some((q) => q.pid === p.pid)) list.push(p); // one torch device per process and GPU
      byGpu.set(row.gpuUuid, list);
    } else {
      unattributed.push(match === 'none' ? p : { ...p, gpuUuid: null, match: 'none', nonTorchBytes: null, nonTorchSource: null, usedBytes: null });
    }
  }
  const gpus = input.gpus.map((g): GpuAttribution => {
    const procs = byGpu.get(g.uuid) ?? [];
    const footprint = sum(procs.map((p) => p.reservedBytes + (p.nonTorchBytes ?? 0)));
    const rest = g.usedBytes === null || footprint === null ? null : g.usedBytes - footprint;
    return {
      timestampMs: g.timestampMs,
      uuid: g.uuid,
      index: g.index,
      name: g.name,
      totalBytes: g.totalBytes,
      usedBytes: g.usedBytes,
      weightsBytes: sum(procs.map((p) => p.weightsBytes)),
      kvCacheBytes: sum(procs.map((p) => p.kvCacheBytes)),
      otherTorchBytes: sum(procs.map((p) => p.otherTorchBytes)),
      torchCachedFreeBytes: sum(procs.map((p) => p.torchCachedFreeBytes)),
      nonTorchBytes: sum(procs.map((p) => p.nonTorchBytes)),
      otherProcessesBytes: rest === null ? null : Math.max(0, rest),
      driverReservedBytes: g.reservedBytes,
      freeBytes: g.freeBytes,
      skewBytes: rest === null ? 0 : Math.max(0, -rest),
      processes: procs,
    };
  });
  return { timestampMs: input.timestampMs, gpus, unattributed, markers: input.markers ?? [] };
}

export const EMPTY_ATTRIBUTION: AttributionSnapshot = { latest: null, markers: [] };
