/**
 * The predicted budget as stacked bands over time. Bottom to top: weights, KV cache for the request in flight
 * ("now"), the further KV cache up to the configured maximum, the activation peak (prefill transient and
 * logits) and overhead (CUDA context, allocator slack). The top of the stack is the predicted device usage at
 * the configured maximum. KV "now" steps with the requests the PyTorch process reports. Pure.
 */
import type { Point } from './series.ts';

export const BAND_KEYS = ['weights', 'kvNow', 'kvToMax', 'activation', 'overhead'] as const;
export type BandKey = (typeof BAND_KEYS)[number];

export const BAND_LABELS: Record<BandKey, string> = {
  weights: 'weights',
  kvNow: 'KV cache (now)',
  kvToMax: 'KV cache (up to configured max)',
  activation: 'activation peak',
  overhead: 'overhead (CUDA context, allocator)',
};

/** Band heights in bytes (not cumulative). */
export type BandStack = Record<BandKey, number>;

/** What the budget predicts, independent of time: KV at the configured maximum and the fixed parts. */
export interface BudgetParts {
  weightsBytes: number;
  kvMaxBytes: number;
  activationBytes: number;
  overheadBytes: number;
}

export function stackFor(parts: BudgetParts, kvNowBytes: number): BandStack {
  const kvNow = Math.max(0, Math.min(kvNowBytes, Number.MAX_SAFE_INTEGER));
  return {
    weights: parts.weightsBytes,
    kvNow,
    kvToMax: Math.max(0, parts.kvMaxBytes - kvNow),
    activation: parts.activationBytes,
    overhead: parts.overheadBytes,
  };
}

/** Cumulative tops, bottom band first. */
export function stackTops(s: BandStack): Record<BandKey, number> {
  let acc = 0;
  const out = {} as Record<BandKey, number>;
  for (const k of BAND_KEYS) {
    acc += s[k];
    out[k] = acc;
  }
  return out;
}

/** The [from, to] byte range of each band in a stack. */
export function bandRanges(s: BandStack): Record<BandKey, { fromBytes: number; toBytes: number }> {
  let acc = 0;
  const out = {} as Record<BandKey, { fromBytes: number; toBytes: number }>;
  for (const k of BAND_KEYS) {
    out[k] = { fromBytes: acc, toBytes: acc + s[k] };
    acc += s[k];
  }
  return out;
}

/** A stretch of time with a known KV "now" (a request in flight), in epoch ms; endMs null = still running. */
export interface KvSpan {
  startMs: number;
  endMs: number | null;
  kvNowBytes: number;
}

/**
 * Step series of the cumulative band tops from `fromMs` to `toMs`: one point per change, drawn with
 * `stepped: 'before'`-free semantics (each point holds until the next). Spans must be sorted by start.
 */
export function bandSeries(parts: BudgetParts, spans: readonly KvSpan[], fromMs: number, toMs: number): Record<BandKey, Point[]> {
  const out = Object.fromEntries(BAND_KEYS.map((k) => [k, [] as Point[]])) as Record<BandKey, Point[]>;
  if (!(toMs >= fromMs)) return out;
  const push = (x: number, kvNow: number): void => {
    const tops = stackTops(stackFor(parts, kvNow));
    for (const k of BAND_KEYS) out[k].push({ x, y: tops[k] });
  };
  let t = fromMs;
  push(t, 0);
  for (const s of spans) {
    const end = s.endMs ?? toMs;
    if (end < fromMs || s.startMs > toMs) continue;
    const start = Math.max(s.startMs, t);
    if (start > t) push(start, 0);
    push(start, s.kvNowBytes);
    const stop = Math.min(end, toMs);
    push(stop, s.kvNowBytes);
    if (stop < toMs) push(stop, 0);
    t = stop;
  }
  if (t < toMs) push(toMs, 0);
  return out;
}
