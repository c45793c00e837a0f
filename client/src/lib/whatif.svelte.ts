/**
 * What-if state for one GPU: the runtime settings the prediction uses (batch, prompt and new tokens, weight
 * dtype/quantization, KV dtype, TP), the model it describes, and everything derived from them through the
 * estimator, which runs in the browser: the predicted bands, the largest batch that fits, and the sequence
 * length at which the configured batch would run out of memory. Until the user edits a field, the settings
 * follow the run's envelope: the largest batch and longest prompt and generation the process has served.
 */
import type { Estimate, KvDtype, WeightScheme } from '../../../shared/estimator/types.ts';
import type { BudgetParts } from './bands.ts';
import type { ModelChoice, PredictContext } from './predict.ts';
import { budgetParts, estimateFor, largestBatch, longestContext } from './predict.ts';
import type { RequestShape } from './processFacts.ts';
import type { PredictedParts } from './split.ts';

export interface Runtime {
  batch: number;
  promptTokens: number;
  newTokens: number;
  weightScheme: WeightScheme;
  kvDtype: KvDtype;
  tp: number;
}

export const DEFAULT_RUNTIME: Runtime = { batch: 1, promptTokens: 2048, newTokens: 256, weightScheme: 'bf16', kvDtype: 'bf16', tp: 1 };

/** Bounds the inputs accept (a field out of range is clamped, never sent to the estimator). */
export const RUNTIME_LIMITS = {
  batch: { min: 1, max: 1024 },
  promptTokens: { min: 1, max: 1_048_576 },
  newTokens: { min: 0, max: 1_048_576 },
  tp: { min: 1, max: 64 },
} as const;

export function clampRuntime(r: Runtime): Runtime {
  const c = (v: number, k: keyof typeof RUNTIME_LIMITS): number => {
    const { min, max } = RUNTIME_LIMITS[k];
    return Number.isFinite(v) ? Math.min(max, Math.max(min, Math.round(v))) : min;
  };
  return { ...r, batch: c(r.batch, 'batch'), promptTokens: c(r.promptTokens, 'promptTokens'), newTokens: c(r.newTokens, 'newTokens'), tp: c(r.tp, 'tp') };
}

/** The runtime a reported request shape implies (the dtype the process reported, when it is one we know). */
export function runtimeFromRequest(base: Runtime, req: RequestShape, dtype: string | null): Runtime {
  const scheme = dtype === 'bf16' || dtype === 'fp16' || dtype === 'fp32' ? dtype : base.weightScheme;
  return { ...base, batch: req.batch, promptTokens: req.promptTokens, newTokens: req.maxNewTokens, weightScheme: scheme, kvDtype: scheme === 'fp32' ? 'fp32' : base.kvDtype };
}

export class WhatIf {
  runtime = $state<Runtime>({ ...DEFAULT_RUNTIME });
  /** True while the settings follow the process's requests; the first edit pins them. */
  following = $state(true);
  model = $state.raw<ModelChoice | null>(null);
  context = $state.raw<PredictContext>({ gpuMemoryBytes: null, gpuName: null });

  /** The estimate at the configured settings (the "configured maximum"). */
  readonly estimate: Estimate | null = $derived(this.model ? estimateFor(this.model, this.runtime, this.context) : null);
  readonly parts: BudgetParts | null = $derived(this.estimate ? budgetParts(this.estimate) : null);
  readonly maxBatch: number | null = $derived(this.model ? largestBatch(this.model, this.runtime, this.context) : null);
  readonly oomContextTokens: number | null = $derived(this.model ? longestContext(this.model, this.runtime, this.context) : null);

  set(patch: Partial<Runtime>): void {
    this.runtime = clampRuntime({ ...this.runtime, ...patch });
    this.following = false;
  }

  /** Follow the process: called with its served envelope; ignored once the user has edited a field. */
  follow(req: RequestShape | null, dtype: string | null): void {
    if (!this.following || !req) return;
    const next = runtimeFromRequest(this.runtime, req, dtype);
    if (JSON.stringify(next) !== JSON.stringify(this.runtime)) this.runtime = clampRuntime(next);
  }

  resume(req: RequestShape | null, dtype: string | null): void {
    this.following = true;
    this.follow(req, dtype);
  }

  /** KV bytes of a request of this shape under the current settings (for the "KV now" band). */
  kvFor(req: { batch: number; promptTokens: number; maxNewTokens: number }): number | null {
    if (!this.model) return null;
    return estimateFor(this.model, { ...this.runtime, batch: req.batch, promptTokens: req.promptTokens, newTokens: req.maxNewTokens }, this.context)?.kvCacheBytes ?? null;
  }

  /** The predicted split for the request in flight (or none), for the Now bar. */
  predictedNow(req: { batch: number; promptTokens: number; maxNewTokens: number } | null): PredictedParts | null {
    if (!this.model) return null;
    const e = req
      ? estimateFor(this.model, { ...this.runtime, batch: req.batch, promptTokens: req.promptTokens, newTokens: req.maxNewTokens }, this.context)
      : this.estimate;
    if (!e) return null;
    const kvNow = req ? e.kvCacheBytes : 0;
    return {
      weightsBytes: e.weightsBytes,
      kvNowBytes: kvNow,
      activationBytes: req ? Math.max(0, e.peakAllocatedBytes - e.weightsBytes - e.kvCacheBytes) : 0,
      torchCacheBytes: Math.max(0, e.reservedBytes - e.peakAllocatedBytes),
      nonTorchBytes: Math.max(0, e.deviceUsedBytes - e.reservedBytes),
    };
  }
}
