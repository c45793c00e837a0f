/**
 * Phase and event markers on the time axis: weights loaded, profiling window, OOM, empty_cache, process
 * start and exit. Built from the PyTorch events and from nvidia-smi's process list (a pid appearing or
 * vanishing). Pure; the chart turns them into chartjs-plugin-annotation lines and boxes.
 */
import type { TorchEvent } from '../../../shared/data.ts';
import { formatBytes } from '../../../shared/units.ts';

export type MarkerKind = 'weights' | 'profiling' | 'oom' | 'empty_cache' | 'start' | 'exit';

export interface Marker {
  kind: MarkerKind;
  /** Epoch ms; for a window (profiling), its start. */
  atMs: number;
  /** End of a window; null for an instant or a window still open. */
  endMs: number | null;
  pid: number;
  /** The torch device index the event named, when it named one. */
  device: number | null;
  /** The GPU, when the source says (nvidia-smi rows); otherwise found through the pid. */
  uuid: string | null;
  label: string;
  detail: string | null;
}

export const MARKER_LABELS: Record<MarkerKind, string> = {
  weights: 'weights loaded',
  profiling: 'profiling',
  oom: 'OOM',
  empty_cache: 'empty_cache',
  start: 'process start',
  exit: 'process exit',
};

/** Markers from PyTorch events, oldest first. A profiling window ends at the process's next phase. */
export function markersFromEvents(events: readonly TorchEvent[]): Marker[] {
  const out: Marker[] = [];
  const openProfiling = new Map<number, Marker>();
  const mark = (kind: MarkerKind, e: TorchEvent, detail: string | null = null): Marker => {
    const m: Marker = { kind, atMs: e.timestampMs, endMs: null, pid: e.pid, device: e.device, uuid: null, label: `${MARKER_LABELS[kind]} · ${e.pid}`, detail };
    out.push(m);
    return m;
  };
  for (const e of events) {
    if (e.kind === 'phase') {
      const open = openProfiling.get(e.pid);
      if (open && e.name !== 'profiling') {
        open.endMs = e.timestampMs;
        openProfiling.delete(e.pid);
      }
      if (e.name === 'cuda_init') mark('start', e);
      else if (e.name === 'profiling') openProfiling.set(e.pid, mark('profiling', e));
      else if (typeof e.facts.weight_bytes === 'number') mark('weights', e, `${formatBytes(e.facts.weight_bytes, 2)} of weights`);
    } else if (e.kind === 'weights') mark('weights', e, e.message);
    else if (e.kind === 'oom') mark('oom', e, e.message);
    else if (e.kind === 'empty_cache') mark('empty_cache', e);
    else if (e.kind === 'end') mark('exit', e);
  }
  return out;
}

/**
 * Process start/exit seen by nvidia-smi: compare two successive process lists (pid → GPU uuid). Only used for
 * pids the PyTorch log does not cover (those already have cuda_init/end markers).
 */
export function processChangeMarkers(prev: ReadonlyMap<number, string>, next: ReadonlyMap<number, string>, atMs: number, covered: ReadonlySet<number>): Marker[] {
  const out: Marker[] = [];
  const mark = (kind: 'start' | 'exit', pid: number, uuid: string, detail: string): Marker =>
    ({ kind, atMs, endMs: null, pid, device: null, uuid, label: `${MARKER_LABELS[kind]} · ${pid}`, detail });
  for (const [pid, uuid] of next) if (!prev.has(pid) && !covered.has(pid)) out.push(mark('start', pid, uuid, 'seen by nvidia-smi'));
  for (const [pid, uuid] of prev) if (!next.has(pid) && !covered.has(pid)) out.push(mark('exit', pid, uuid, 'gone from nvidia-smi'));
  return out;
}

/** The markers that belong on one GPU's chart: by uuid, else by the pid's GPU, else by the torch device index. */
export function markersOn(markers: readonly Marker[], gpu: { uuid: string; index: number }, gpuOfPid: (pid: number) => string | null): Marker[] {
  return markers.filter((m) => {
    if (m.uuid !== null) return m.uuid === gpu.uuid;
    const joined = gpuOfPid(m.pid);
    if (joined !== null) return joined === gpu.uuid;
    return m.device === null || m.device === gpu.index;
  });
}
