/**
 * Reads `prof.export_memory_timeline(path)` plot JSON: `[times_us, sizes]`, where `times_us[i]` is epoch µs
 * and `sizes[i]` holds 9 byte counts: index 0 is the stacking baseline (always 0), then one per category in
 * `torch/profiler/_memory_profiler.py`'s `_CATEGORY_TO_INDEX` order, then unknown (None). Values are the
 * bytes live per category on the exported device.
 */
import { readFile, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { z } from 'zod';

/** PyTorch's order (Category enum: PARAMETER, OPTIMIZER_STATE, INPUT, TEMPORARY, ACTIVATION, GRADIENT, AUTOGRAD_DETAIL; then None). */
export const TIMELINE_CATEGORIES = ['parameter', 'optimizer_state', 'input', 'temporary', 'activation', 'gradient', 'autograd_detail', 'unknown'] as const;
export type TimelineCategory = (typeof TIMELINE_CATEGORIES)[number];

const bytes = z.number().int().nonnegative();
const TimelineSchema = z.tuple([
  z.array(z.number().finite()),
  z.array(z.array(bytes).length(TIMELINE_CATEGORIES.length + 1, { error: `each size row has ${TIMELINE_CATEGORIES.length + 1} numbers (baseline + 8 categories)` })),
]);

export interface TimelinePoint {
  timestampMs: number;
  /** Bytes per category, in TIMELINE_CATEGORIES order. */
  bytes: number[];
}

export interface MemoryTimeline {
  fileName: string;
  points: TimelinePoint[];
  peakByCategory: Record<TimelineCategory, number>;
  peakTotalBytes: number;
}

/** Files larger than this are refused (the plot JSON is ~68 B a point: this is millions of points). */
export const MAX_TIMELINE_BYTES = 256 * 1024 * 1024;

export function parseMemoryTimeline(json: unknown, fileName: string): MemoryTimeline {
  const parsed = TimelineSchema.safeParse(json);
  if (!parsed.success) throw new Error(`${fileName} is not export_memory_timeline plot JSON ([times_us, sizes]): ${z.prettifyError(parsed.error).split('\n')[0]}`);
  const [times, sizes] = parsed.data;
  if (times.length !== sizes.length) throw new Error(`${fileName}: ${times.length} times but ${sizes.length} size rows`);
  const peakByCategory = Object.fromEntries(TIMELINE_CATEGORIES.map((c) => [c, 0])) as Record<TimelineCategory, number>;
  let peakTotalBytes = 0;
  const points = times.map((t, i) => {
    const row = sizes[i]!.slice(1);
    row.forEach((b, k) => {
      const c = TIMELINE_CATEGORIES[k]!;
      if (b > peakByCategory[c]) peakByCategory[c] = b;
    });
    peakTotalBytes = Math.max(peakTotalBytes, row.reduce((a, b) => a + b, 0));
    return { timestampMs: t / 1000, bytes: row };
  });
  return { fileName, points, peakByCategory, peakTotalBytes };
}

export async function readMemoryTimeline(path: string): Promise<MemoryTimeline> {
  if ((await stat(path)).size > MAX_TIMELINE_BYTES) throw new Error(`${basename(path)} is over ${MAX_TIMELINE_BYTES} bytes; export a shorter profile`);
  let buf = await readFile(path);
  if (path.endsWith('.gz')) buf = await promisify(gunzip)(buf, { maxOutputLength: MAX_TIMELINE_BYTES });
  if (buf.length > MAX_TIMELINE_BYTES) throw new Error(`${basename(path)} is over ${MAX_TIMELINE_BYTES} bytes; export a shorter profile`);
  let json: unknown;
  try {
    json = JSON.parse(buf.toString('utf8'));
  } catch (e) {
    throw new Error(`${basename(path)} is not JSON (${(e as Error).message}); is it still being written?`);
  }
  return parseMemoryTimeline(json, basename(path));
}

/** At most `max` points, each bucket keeping its highest total. */
export function downsampleTimeline(points: TimelinePoint[], max: number): TimelinePoint[] {
  if (points.length <= max) return points;
  const size = points.length / max;
  const total = (p: TimelinePoint): number => p.bytes.reduce((a, b) => a + b, 0);
  const out: TimelinePoint[] = [];
  for (let b = 0; b < max; b++) {
    const bucket = points.slice(Math.floor(b * size), Math.floor((b + 1) * size));
    out.push(bucket.reduce((m, p) => (total(p) > total(m) ? p : m)));
  }
  return out;
}
