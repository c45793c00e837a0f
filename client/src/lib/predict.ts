/**
 * The estimator (shared/estimator, the same code as `headroom estimate`) as the dashboard uses it: a model
 * choice plus runtime settings in, an Estimate out; the parts the bands stack; and two solvers by bisection
 * over the estimate: the largest batch that fits and the sequence length at which the batch runs out.
 * Estimates are memoised per input (sliders re-ask the same questions while dragging).
 */
import { estimate, findModel, GPUS, MODELS, modelFromHfConfig, solveMaxBatch, solveMaxPrompt } from '../../../shared/estimator/index.ts';
import type { Estimate, EstimateInput, GpuSpec, ModelSpec } from '../../../shared/estimator/index.ts';
import type { AgentModel } from '../../../shared/contract.ts';
import type { BudgetParts } from './bands.ts';
import type { ProcessFacts } from './processFacts.ts';
import type { Runtime } from './whatif.svelte.ts';

export interface ModelChoice {
  source: 'catalog' | 'agent' | 'hook';
  label: string;
  spec: ModelSpec;
  /** Exact weight bytes measured or read from headers, valid for `exactDtype`. */
  weightsBytesExact: number | null;
  exactDtype: string | null;
}

export interface PredictContext {
  /** Usable device memory (total − driver-reserved), or null when unknown. */
  gpuMemoryBytes: number | null;
  gpuName: string | null;
}

export function catalogEntries(): { id: string; name: string }[] {
  return MODELS.map((m) => ({ id: m.id, name: m.name }));
}

export function modelFromCatalog(id: string): ModelChoice | null {
  const spec = findModel(id);
  return spec ? { source: 'catalog', label: spec.name, spec, weightsBytesExact: null, exactDtype: null } : null;
}

/** The model given to the agent with --model; its exact weight bytes hold for the checkpoint's own dtype. */
export function modelFromAgent(m: AgentModel | null): ModelChoice | null {
  if (!m || !m.ok) return null;
  return { source: 'agent', label: m.label, spec: m.spec, weightsBytesExact: m.weightsBytesExact, exactDtype: m.scheme ?? m.spec.defaultDtype };
}

/** The model a PyTorch process reported: its catalog id when we know it, else its config fields. */
export function modelFromReport(f: ProcessFacts): ModelChoice | null {
  let spec: ModelSpec | null = (f.model ? findModel(f.model) : undefined) ?? null;
  if (!spec && f.config) {
    try {
      // The hook reports the HF config fields; Llama-shaped when it does not name the model_type.
      spec = modelFromHfConfig({ model_type: 'llama', ...f.config }, f.model ?? 'reported model');
    } catch {
      spec = null;
    }
  }
  if (!spec) return null;
  return { source: 'hook', label: f.model ?? spec.name, spec, weightsBytesExact: f.weightBytes, exactDtype: f.dtype };
}

/**
 * This GPU for the estimator: the catalog entry whose name nvidia-smi's name starts (its architecture and
 * measured CUDA-context size), with the memory measured here (total − driver-reserved).
 */
export function gpuSpecFor(ctx: PredictContext): GpuSpec | undefined {
  const name = ctx.gpuName?.toLowerCase() ?? '';
  const known = [...GPUS].sort((a, b) => b.name.length - a.name.length).find((g) => name !== '' && g.name.toLowerCase().startsWith(name.replace(/\s+\d+gb$/, '')));
  if (ctx.gpuMemoryBytes === null) return known;
  const base = known ?? GPUS[0];
  if (!base) return undefined;
  return { ...base, id: known?.id ?? 'this-gpu', name: ctx.gpuName ?? base.name, memoryBytes: ctx.gpuMemoryBytes };
}

const memo = new Map<string, Estimate | null>();
const MEMO_LIMIT = 4000;

/** The estimator's input for a model, runtime and GPU (exact weight bytes only where they apply). */
export function estimateInput(model: ModelChoice, r: Runtime, ctx: PredictContext): EstimateInput {
  return {
    model: model.spec,
    weightsBytesExact: model.weightsBytesExact !== null && model.exactDtype === r.weightScheme && r.tp === 1 ? model.weightsBytesExact : null,
    dtype: r.weightScheme === 'fp32' || r.weightScheme === 'fp16' ? r.weightScheme : 'bf16',
    weightScheme: r.weightScheme,
    kvDtype: r.kvDtype,
    batch: r.batch,
    promptTokens: r.promptTokens,
    newTokens: r.newTokens,
    tp: r.tp,
    gpu: gpuSpecFor(ctx),
  };
}

export function estimateFor(model: ModelChoice, r: Runtime, ctx: PredictContext): Estimate | null {
  const input = estimateInput(model, r, ctx);
  const key = JSON.stringify(input);
  if (memo.has(key)) return memo.get(key) ?? null;
  let e: Estimate | null;
  try {
    e = estimate(input);
  } catch {
    e = null;
  }
  if (memo.size >= MEMO_LIMIT) memo.clear();
  memo.set(key, e);
  return e;
}

/** The most the process holds on the device over the run: after the prefill or after its new tokens. */
export function deviceUsedMost(e: Estimate): number {
  return Math.max(e.deviceUsedBytes, e.deviceUsedAfterDecodeBytes);
}

/** Band heights at the configured settings: KV, the activation peak above weights + KV, and the rest. */
export function budgetParts(e: Estimate): BudgetParts {
  return {
    weightsBytes: e.weightsBytes,
    kvMaxBytes: e.kvCacheBytes,
    activationBytes: Math.max(0, e.peakAllocatedBytes - e.weightsBytes - e.kvCacheBytes),
    // Allocator slack and context up to the most the process holds: after the prefill or, when decoding grows
    // the cache (DynamicCache's torch.cat), after the new tokens.
    overheadBytes: Math.max(0, deviceUsedMost(e) - e.peakAllocatedBytes),
  };
}

function safely<T>(f: () => T): T | null {
  try {
    return f();
  } catch {
    return null;
  }
}

const solved = new Map<string, number | null>();

/** A solver's answer, memoised per question (each costs a few dozen estimates). */
function solveOnce(kind: string, input: EstimateInput, solve: () => number | null): number | null {
  const key = `${kind}:${JSON.stringify(input)}`;
  if (solved.has(key)) return solved.get(key) ?? null;
  const answer = solve();
  if (solved.size >= MEMO_LIMIT) solved.clear();
  solved.set(key, answer);
  return answer;
}

/** Largest batch that fits (the estimator's verdict, with its headroom kept free) at the configured lengths. */
export function largestBatch(model: ModelChoice, r: Runtime, ctx: PredictContext): number | null {
  if (ctx.gpuMemoryBytes === null) return null;
  const input = estimateInput(model, r, ctx);
  return solveOnce('batch', input, () => safely(() => solveMaxBatch(input)));
}

/** How far the OOM search looks: well past any model's trained length (a run can be asked for more). */
export const OOM_SEARCH_MAX_TOKENS = 1_048_576;

/**
 * Where the configured batch runs out of memory: the tokens per sequence (prompt + new) at which the predicted
 * device usage passes the GPU's memory (no headroom kept); null when it fits up to the search limit.
 */
export function longestContext(model: ModelChoice, r: Runtime, ctx: PredictContext): number | null {
  if (ctx.gpuMemoryBytes === null) return null;
  const input = { ...estimateInput(model, r, ctx), headroomFraction: 0 };
  const maxPrompt = Math.max(1, OOM_SEARCH_MAX_TOKENS - r.newTokens);
  const longest = solveOnce('prompt', input, () => safely(() => solveMaxPrompt(input, maxPrompt)));
  if (longest === null || longest >= maxPrompt) return null;
  return longest + 1 + r.newTokens;
}
