/**
 * Export: the history the page holds as CSV (long format, one row per sample and series) or JSON, and the
 * chart's visible window as PNG. Builders are pure; `download()` is the only DOM part.
 */
import type { GpuSample, TorchEvent } from '../../../shared/data.ts';
import type { SourceState } from '../../../shared/source.ts';
import type { GpuSeries } from './dashboard.svelte.ts';
import type { Marker } from './markers.ts';

export interface ExportInput {
  exportedAtMs: number;
  source: SourceState | null;
  gpus: readonly GpuSample[];
  series: Readonly<Record<string, GpuSeries>>;
  events: readonly TorchEvent[];
  markers: readonly Marker[];
  /** Only this GPU, or all. */
  uuid: string | null;
}

export const CSV_HEADER = 'timestamp_iso,timestamp_ms,gpu_index,gpu_uuid,series,pid,bytes';

/** RFC 4180 quoting for fields that need it. */
function csvField(v: string | number | null): string {
  if (v === null) return '';
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

function pickGpus(input: ExportInput): GpuSample[] {
  return input.gpus.filter((g) => input.uuid === null || g.uuid === input.uuid);
}

export function historyCsv(input: ExportInput): string {
  const rows: string[] = [CSV_HEADER];
  for (const g of pickGpus(input)) {
    const s = input.series[g.uuid];
    if (!s) continue;
    const emit = (name: string, pid: number | null, points: readonly { x: number; y: number }[]): void => {
      for (const p of points) rows.push([new Date(p.x).toISOString(), p.x, g.index, csvField(g.uuid), name, pid, p.y].map((v) => (typeof v === 'string' ? v : csvField(v))).join(','));
    };
    emit('used_nvidia_smi', null, s.used.points);
    for (const t of s.torch) {
      emit('torch_allocated', t.pid, t.allocated.points);
      emit('torch_reserved', t.pid, t.reserved.points);
    }
  }
  return `${rows.join('\n')}\n`;
}

export interface HistoryJson {
  format: 'headroom-history';
  version: 1;
  exportedAtMs: number;
  source: SourceState | null;
  gpus: {
    uuid: string;
    index: number;
    name: string | null;
    totalBytes: number | null;
    /** [epoch ms, bytes] pairs. */
    used: [number, number][];
    torch: { pid: number; allocated: [number, number][]; reserved: [number, number][] }[];
  }[];
  events: TorchEvent[];
  markers: Marker[];
}

const pairs = (points: readonly { x: number; y: number }[]): [number, number][] => points.map((p) => [p.x, p.y]);

export function historyJson(input: ExportInput): HistoryJson {
  return {
    format: 'headroom-history',
    version: 1,
    exportedAtMs: input.exportedAtMs,
    source: input.source,
    gpus: pickGpus(input).map((g) => {
      const s = input.series[g.uuid];
      return {
        uuid: g.uuid,
        index: g.index,
        name: g.name,
        totalBytes: g.totalBytes,
        used: pairs(s?.used.points ?? []),
        torch: (s?.torch ?? []).map((t) => ({ pid: t.pid, allocated: pairs(t.allocated.points), reserved: pairs(t.reserved.points) })),
      };
    }),
    events: [...input.events],
    markers: [...input.markers],
  };
}

/** `headroom-gpu0-20261121-0512.csv` */
export function exportFileName(kind: 'csv' | 'json' | 'png', gpuIndex: number | null, atMs: number): string {
  const d = new Date(atMs);
  const pad = (n: number): string => String(n).padStart(2, '0');
  const stamp = `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}-${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}`;
  return `headroom-${gpuIndex === null ? 'all' : `gpu${gpuIndex}`}-${stamp}.${kind}`;
}

/** Save a blob or data URL under a file name (the browser's download, no server round trip). */
export function download(name: string, content: Blob | string): void {
  const url = typeof content === 'string' ? content : URL.createObjectURL(content);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  if (typeof content !== 'string') setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
