/**
 * Stream-parses a PyTorch profiler Chrome trace (`*.pt.trace.json`, or `.json.gz`) for its `[memory]` and
 * `[OutOfMemory]` instant events, in bounded memory: the document is never held whole (files reach hundreds
 * of MB), events are kept as compact numeric columns, and beyond `maxEvents` adjacent points are merged
 * (keeping the higher allocation), so peaks survive.
 *
 * Times: kineto writes `ts` in µs relative to `baseTimeNanoseconds` (in the header, or last in older files;
 * absent before 2024: then `ts` is absolute epoch µs). Epoch ms = (baseTimeNanoseconds / 1e3 + ts) / 1e3.
 * Only CUDA allocations count (`Device Type` 1); CPU ones are skipped.
 */
import { createReadStream } from 'node:fs';
import { basename } from 'node:path';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import chain from 'stream-chain';
import { parser } from 'stream-json';
import { pick } from 'stream-json/filters/pick.js';
import { streamValues } from 'stream-json/streamers/stream-values.js';
import type { DataRecord, TorchEvent, TorchSample } from '../../shared/data.ts';

export interface TraceMemoryPoint {
  timestampMs: number;
  pid: number;
  device: number;
  allocatedBytes: number;
  reservedBytes: number;
  /** Signed size of this allocation (> 0) or free (< 0). */
  bytes: number;
}

export interface TraceOom {
  timestampMs: number;
  pid: number;
  device: number;
  bytes: number;
  allocatedBytes: number | null;
  reservedBytes: number | null;
}

export interface TraceMemory {
  fileName: string;
  baseTimeNanoseconds: number | null;
  memoryEvents: number;
  cpuMemoryEvents: number;
  /** CUDA memory points sorted by time (merged pairwise beyond maxEvents). */
  points: TraceMemoryPoint[];
  ooms: TraceOom[];
  merged: boolean;
}

const MEMORY_NAMES = new Set(['[memory]', '[OutOfMemory]']);
const DEFAULT_MAX_EVENTS = 1_000_000;

type Raw = Record<string, unknown>;
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const int = (v: unknown): number | null => (typeof v === 'number' && Number.isInteger(v) ? v : null);

/** Growable numeric columns: 6 doubles per point instead of an object. */
class Columns {
  #data: Float64Array;
  length = 0;
  merged = false;
  constructor(readonly max: number) {
    this.#data = new Float64Array(6 * Math.min(max, 4096));
  }
  push(ts: number, pid: number, device: number, alloc: number, reserved: number, bytes: number): void {
    if (this.length === this.max) this.#halve();
    if (6 * (this.length + 1) > this.#data.length) {
      const next = new Float64Array(Math.min(this.#data.length * 2, 6 * this.max));
      next.set(this.#data);
      this.#data = next;
    }
    this.#data.set([ts, pid, device, alloc, reserved, bytes], 6 * this.length++);
  }
  /** Merge neighbours, keeping the higher allocation of each pair. */
  #halve(): void {
    const d = this.#data;
    let w = 0;
    for (let i = 0; i < this.length; i += 2) {
      const j = i + 1 < this.length && d[6 * (i + 1) + 3]! > d[6 * i + 3]! ? i + 1 : i;
      d.copyWithin(6 * w++, 6 * j, 6 * j + 6);
    }
    this.length = w;
    this.merged = true;
  }
  rows(): number[][] {
    const out: number[][] = [];
    for (let i = 0; i < this.length; i++) out.push(Array.from(this.#data.subarray(6 * i, 6 * i + 6)));
    return out;
  }
}

/** Parse a trace from a byte stream (already decompressed). */
export async function parseTraceStream(input: Readable, fileName: string, maxEvents = DEFAULT_MAX_EVENTS): Promise<TraceMemory> {
  let base: number | null = null;
  let cpu = 0;
  const cols = new Columns(maxEvents);
  const ooms: (Omit<TraceOom, 'timestampMs'> & { ts: number })[] = [];
  const objectFilter = (asm: { depth: number; current: unknown; stack: unknown[] }): boolean | undefined => {
    const ev = asm.depth <= 1 ? asm.current : asm.stack[1];
    if (ev && typeof ev === 'object' && typeof (ev as Raw).name === 'string') return MEMORY_NAMES.has((ev as Raw).name as string);
    return undefined;
  };
  const pipeline = chain([
    input,
    parser(),
    pick({ filter: /^(baseTimeNanoseconds|traceEvents\.\d+)$/ }),
    streamValues({ objectFilter, includeUndecided: true }),
  ]);
  pipeline.on('data', ({ value }: { value: unknown }) => {
    if (typeof value === 'number') {
      base = value;
      return;
    }
    if (!value || typeof value !== 'object') return;
    const e = value as Raw;
    if (typeof e.name !== 'string' || !MEMORY_NAMES.has(e.name)) return;
    const args = (e.args ?? {}) as Raw;
    const ts = num(e.ts);
    const device = int(args['Device Id']);
    const pid = int(e.pid);
    if (ts === null || pid === null || pid < 0) return;
    if (args['Device Type'] !== 1 || device === null || device < 0) {
      cpu++;
      return;
    }
    const alloc = int(args['Total Allocated']);
    const reserved = int(args['Total Reserved']);
    const bytes = int(args.Bytes) ?? 0;
    if (e.name === '[OutOfMemory]') ooms.push({ ts, pid, device, bytes, allocatedBytes: alloc, reservedBytes: reserved });
    else if (alloc !== null && reserved !== null) cols.push(ts, pid, device, alloc, reserved, bytes);
  });
  await new Promise<void>((resolve, reject) => {
    pipeline.on('end', resolve);
    pipeline.on('error', reject);
    input.on('error', reject);
  });
  const baseUs = base === null ? 0 : (base as number) / 1000;
  const toMs = (ts: number): number => (baseUs + ts) / 1000;
  const points = cols
    .rows()
    .map(([ts, pid, device, alloc, reserved, bytes]) => ({
      timestampMs: toMs(ts!),
      pid: pid!,
      device: device!,
      allocatedBytes: alloc!,
      reservedBytes: reserved!,
      bytes: bytes!,
    }))
    .sort((a, b) => a.timestampMs - b.timestampMs);
  return {
    fileName,
    baseTimeNanoseconds: base,
    memoryEvents: cols.length + ooms.length + cpu,
    cpuMemoryEvents: cpu,
    points,
    ooms: ooms.map(({ ts, ...o }) => ({ ...o, timestampMs: toMs(ts) })).sort((a, b) => a.timestampMs - b.timestampMs),
    merged: cols.merged,
  };
}

/** Parse a trace file; `.gz` is decompressed on the fly. */
export function parseTraceFile(path: string, maxEvents?: number): Promise<TraceMemory> {
  const raw = createReadStream(path);
  const input = path.endsWith('.gz') ? raw.pipe(createGunzip()) : raw;
  if (input !== raw) raw.on('error', (e) => input.destroy(e));
  return parseTraceStream(input, basename(path), maxEvents);
}

/** At most `max` points per (pid, device): each time bucket keeps its highest allocation. */
export function downsample(points: TraceMemoryPoint[], max: number): TraceMemoryPoint[] {
  const groups = new Map<string, TraceMemoryPoint[]>();
  for (const p of points) {
    const k = `${p.pid}:${p.device}`;
    const g = groups.get(k);
    if (g) g.push(p);
    else groups.set(k, [p]);
  }
  const out: TraceMemoryPoint[] = [];
  for (const g of groups.values()) {
    if (g.length <= max) {
      out.push(...g);
      continue;
    }
    const size = g.length / max;
    for (let b = 0; b < max; b++) {
      const bucket = g.slice(Math.floor(b * size), Math.floor((b + 1) * size));
      out.push(bucket.reduce((m, p) => (p.allocatedBytes > m.allocatedBytes ? p : m)));
    }
  }
  return out.sort((a, b) => a.timestampMs - b.timestampMs);
}

/** Timeline points → torch samples, OOMs → `oom` events, plus one `profiler_trace` marker per (pid, device). */
export function traceToRecords(trace: TraceMemory, maxPoints = 2000): DataRecord[] {
  const out: DataRecord[] = [];
  const ms = (t: number): number => Math.round(t);
  for (const p of downsample(trace.points, maxPoints)) {
    const sample: TorchSample = {
      timestampMs: ms(p.timestampMs),
      pid: p.pid,
      device: p.device,
      uuid: null,
      phase: null,
      allocatedBytes: p.allocatedBytes,
      reservedBytes: p.reservedBytes,
      activeBytes: null,
      inactiveSplitBytes: null,
      peakAllocatedBytes: null,
      numAllocRetries: null,
      numOoms: null,
    };
    out.push({ kind: 'torch', t: sample.timestampMs, sample });
  }
  const groups = new Map<string, TraceMemoryPoint[]>();
  for (const p of trace.points) {
    const k = `${p.pid}:${p.device}`;
    const g = groups.get(k);
    if (g) g.push(p);
    else groups.set(k, [p]);
  }
  for (const mine of groups.values()) {
    const first = mine[0]!;
    const event: TorchEvent = {
      timestampMs: ms(first.timestampMs),
      pid: first.pid,
      device: first.device,
      kind: 'profiler_trace',
      name: trace.fileName,
      message: null,
      facts: {
        file: trace.fileName,
        memory_events: mine.length,
        end_ms: ms(mine.at(-1)!.timestampMs),
        peak_allocated: mine.reduce((m, q) => Math.max(m, q.allocatedBytes), 0),
        peak_reserved: mine.reduce((m, q) => Math.max(m, q.reservedBytes), 0),
        merged: trace.merged,
      },
    };
    out.push({ kind: 'torchEvent', t: event.timestampMs, event });
  }
  for (const o of trace.ooms) {
    const event: TorchEvent = {
      timestampMs: ms(o.timestampMs),
      pid: o.pid,
      device: o.device,
      kind: 'oom',
      name: null,
      message: null,
      facts: { source: 'profiler', file: trace.fileName, alloc: o.bytes, total_allocated: o.allocatedBytes, total_reserved: o.reservedBytes },
    };
    out.push({ kind: 'torchEvent', t: event.timestampMs, event });
  }
  return out.sort((a, b) => a.t - b.t);
}
