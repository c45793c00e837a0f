/** Input validation and defaults: everything after this point can trust its numbers. */
import { FLOAT_BYTES, KV_DTYPES, WEIGHT_SCHEMES } from './dtypes.ts';
import { findGpu } from './gpus.ts';
import type { AttentionKind, Engine, EstimateInput, FloatDtype, GpuSpec, KvDtype, LogitsMode, ModelSpec, TrainingInput, WeightScheme } from './types.ts';

/** Bad estimator input; the message says which value and what is allowed. */
export class EstimateError extends Error {
  override name = 'EstimateError';
}

export interface Resolved {
  model: ModelSpec;
  dtype: FloatDtype;
  bytes: number;
  scheme: WeightScheme;
  groupSize: number;
  kvDtype: KvDtype;
  batch: number;
  prompt: number;
  newTokens: number;
  attention: AttentionKind;
  logits: LogitsMode;
  logitsFp32: boolean;
  engine: Engine;
  tp: number;
  pp: number;
  gpu: GpuSpec;
  headroomFraction: number;
  training: TrainingInput | null;
  weightsBytesExact: number | null;
}

function positiveInt(name: string, v: number | undefined, fallback: number, max = 1e9): number {
  const x = v ?? fallback;
  if (!Number.isInteger(x) || x < 1 || x > max) throw new EstimateError(`${name} must be a whole number from 1 to ${max}, got ${String(v)}`);
  return x;
}

function checkModel(m: ModelSpec): void {
  const fields: [string, number][] = [['layers', m.layers], ['hidden', m.hidden], ['heads', m.heads], ['kvHeads', m.kvHeads], ['headDim', m.headDim], ['intermediate', m.intermediate], ['vocab', m.vocab]];
  for (const [k, v] of fields) if (!Number.isInteger(v) || v < 1) throw new EstimateError(`model ${m.id}: ${k} must be a positive whole number, got ${String(v)}`);
  if (m.heads % m.kvHeads !== 0 && !m.mla) throw new EstimateError(`model ${m.id}: heads (${m.heads}) must be a multiple of kvHeads (${m.kvHeads})`);
}

export function resolveInput(input: EstimateInput): Resolved {
  const m = input.model;
  checkModel(m);
  const dtype = input.dtype;
  if (!(dtype in FLOAT_BYTES)) throw new EstimateError(`dtype must be fp32, fp16 or bf16, got "${String(dtype)}"`);
  const scheme = input.weightScheme ?? dtype;
  if (!WEIGHT_SCHEMES.includes(scheme)) throw new EstimateError(`weight scheme must be one of ${WEIGHT_SCHEMES.join(', ')}; got "${String(scheme)}"`);
  const kvDtype = input.kvDtype ?? dtype;
  if (!KV_DTYPES.includes(kvDtype)) throw new EstimateError(`KV dtype must be one of ${KV_DTYPES.join(', ')}; got "${String(kvDtype)}"`);
  const tp = positiveInt('tp', input.tp, 1, 1024);
  const pp = positiveInt('pp', input.pp, 1, 1024);
  if (m.heads % tp !== 0) throw new EstimateError(`tp ${tp} must divide the model's ${m.heads} attention heads`);
  if (pp > m.layers) throw new EstimateError(`pp ${pp} exceeds the model's ${m.layers} layers`);
  const gpu = input.gpu ?? findGpu('h200')!;
  const headroomFraction = input.headroomFraction ?? 0.05;
  if (!(headroomFraction >= 0 && headroomFraction < 1)) throw new EstimateError(`headroom fraction must be in [0, 1), got ${headroomFraction}`);
  const engine = input.engine ?? { kind: 'hf-dynamic' };
  if (engine.kind === 'vllm') {
    const u = engine.gpuMemoryUtilization ?? 0.9;
    if (!(u > 0 && u <= 1)) throw new EstimateError(`gpu_memory_utilization must be in (0, 1], got ${u}`);
  }
  const t = input.training ?? null;
  if (t) positiveInt('data-parallel GPUs', t.dataParallel, 1, 100000);
  const exact = input.weightsBytesExact ?? null;
  if (exact !== null && !(Number.isFinite(exact) && exact > 0)) throw new EstimateError(`exact weight bytes must be positive, got ${exact}`);
  return {
    model: m, dtype, bytes: FLOAT_BYTES[dtype], scheme, groupSize: positiveInt('group size', input.quantGroupSize, 128, 1 << 20), kvDtype,
    batch: positiveInt('batch', input.batch, 1, 1 << 20),
    prompt: positiveInt('prompt tokens (--seq)', input.promptTokens, 1, 1 << 24),
    newTokens: input.newTokens === 0 || input.newTokens === undefined ? 0 : positiveInt('new tokens', input.newTokens, 0, 1 << 24),
    attention: input.attention ?? 'sdpa', logits: input.logits ?? 'last', logitsFp32: input.logitsFp32 ?? false,
    engine, tp, pp, gpu, headroomFraction, training: t, weightsBytesExact: exact,
  };
}
