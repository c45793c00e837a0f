/**
 * Solvers over estimate(): the largest batch at a prompt length, the longest prompt at a batch, and the
 * smallest catalog GPU (and count, as tensor parallelism) that fits. Monotone searches: exponential probe,
 * then bisection, so each costs O(log n) estimates.
 */
import { estimate } from './estimate.ts';
import { GPUS } from './gpus.ts';
import type { Estimate, EstimateInput, GpuSpec } from './types.ts';

function largestFitting(fits: (n: number) => boolean, max: number): number {
  if (!fits(1)) return 0;
  let lo = 1;
  let hi = 2;
  while (hi <= max && fits(hi)) {
    lo = hi;
    hi *= 2;
  }
  hi = Math.min(hi, max + 1);
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (fits(mid)) lo = mid;
    else hi = mid;
  }
  return lo;
}

/** Largest batch that fits at input.promptTokens (0 when even batch 1 does not fit). */
export function solveMaxBatch(input: EstimateInput, maxBatch = 4096): number {
  return largestFitting((b) => estimate({ ...input, batch: b }).fits, maxBatch);
}

/** Longest prompt that fits at input.batch, up to the model's max_position_embeddings (or maxTokens). */
export function solveMaxPrompt(input: EstimateInput, maxTokens = input.model.maxPositions): number {
  return largestFitting((s) => estimate({ ...input, promptTokens: s }).fits, maxTokens);
}

export interface GpuChoice {
  gpu: GpuSpec;
  count: number;
  estimate: Estimate;
}

/**
 * For each catalog GPU, the fewest GPUs (tensor parallel: a power of two that divides the heads) that fit;
 * sorted by count, then by GPU memory. The first entry is the smallest setup that fits.
 */
export function solveSmallestGpu(input: EstimateInput, gpus: readonly GpuSpec[] = GPUS, maxCount = 8): GpuChoice[] {
  const out: GpuChoice[] = [];
  for (const gpu of gpus) {
    for (let count = 1; count <= maxCount; count *= 2) {
      if (input.model.heads % count !== 0) break;
      const e = estimate({ ...input, gpu, tp: count });
      if (e.fits) {
        out.push({ gpu, count, estimate: e });
        break;
      }
    }
  }
  return out.sort((a, b) => a.count - b.count || a.gpu.memoryBytes - b.gpu.memoryBytes);
}
