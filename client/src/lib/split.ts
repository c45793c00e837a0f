/**
 * The "Now bar": one GPU's memory split into categories, measured and predicted, and the difference per
 * category. The measured split comes from attribution (`shared/attribution.ts`, the same function the agent
 * runs); this module only lays splits side by side. Pure.
 */

export const SPLIT_KEYS = ['weights', 'kv', 'activations', 'torchCache', 'nonTorch', 'otherProcesses', 'driverReserved', 'free'] as const;
export type SplitKey = (typeof SPLIT_KEYS)[number];

export const SPLIT_LABELS: Record<SplitKey, string> = {
  weights: 'weights',
  kv: 'KV cache',
  activations: 'activations',
  torchCache: 'PyTorch cache',
  nonTorch: 'non-PyTorch',
  otherProcesses: 'other processes',
  driverReserved: 'driver-reserved',
  free: 'free',
};

/** Bytes per category; null = not known (never a fake 0). */
export type Split = Record<SplitKey, number | null>;

export interface SplitRow {
  key: SplitKey;
  label: string;
  measuredBytes: number | null;
  predictedBytes: number | null;
  /** measured − predicted, and that as a fraction of predicted (null when either side is missing or predicted is 0). */
  diffBytes: number | null;
  diffFraction: number | null;
}

export function compareSplits(measured: Split, predicted: Split | null): SplitRow[] {
  return SPLIT_KEYS.map((key) => {
    const m = measured[key];
    const p = predicted ? predicted[key] : null;
    const diff = m !== null && p !== null ? m - p : null;
    return {
      key,
      label: SPLIT_LABELS[key],
      measuredBytes: m,
      predictedBytes: p,
      diffBytes: diff,
      diffFraction: diff !== null && p !== null && p > 0 ? diff / p : null,
    };
  });
}

/** Widths (fractions of total) for a stacked bar; unknown categories take no width. */
export function barWidths(split: Split, totalBytes: number | null): Record<SplitKey, number> {
  const known = SPLIT_KEYS.reduce((a, k) => a + Math.max(0, split[k] ?? 0), 0);
  const denom = totalBytes !== null && totalBytes > 0 ? Math.max(totalBytes, known) : known;
  const out = {} as Record<SplitKey, number>;
  for (const k of SPLIT_KEYS) out[k] = denom > 0 ? Math.max(0, split[k] ?? 0) / denom : 0;
  return out;
}

export interface PredictedParts {
  weightsBytes: number;
  kvNowBytes: number;
  activationBytes: number;
  /** Reserved above allocated the allocator model predicts. */
  torchCacheBytes: number;
  /** CUDA context and other memory outside PyTorch's allocator. */
  nonTorchBytes: number;
}

/**
 * The predicted split on this GPU: the model's parts for the process it describes, plus the measured parts of
 * the other PyTorch processes, with what no estimator predicts (other processes, driver-reserved) taken as
 * measured; free is what remains of the total. The differences then isolate the prediction's error.
 */
export function predictedSplit(parts: PredictedParts, others: PredictedParts, measured: Split, totalBytes: number | null): Split {
  const split: Split = {
    weights: parts.weightsBytes + others.weightsBytes,
    kv: parts.kvNowBytes + others.kvNowBytes,
    activations: parts.activationBytes + others.activationBytes,
    torchCache: parts.torchCacheBytes + others.torchCacheBytes,
    nonTorch: parts.nonTorchBytes + others.nonTorchBytes,
    otherProcesses: measured.otherProcesses,
    driverReserved: measured.driverReserved,
    free: null,
  };
  if (totalBytes !== null) {
    const used = SPLIT_KEYS.reduce((a, k) => (k === 'free' ? a : a + (split[k] ?? 0)), 0);
    split.free = totalBytes - used;
  }
  return split;
}
