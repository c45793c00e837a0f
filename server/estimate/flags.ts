/** `headroom estimate` flags → EstimateInput, each value checked with a message that names the flag. */
import {
  EstimateError, findGpu, GPUS, KV_DTYPES, WEIGHT_SCHEMES, type Engine, type EstimateInput, type FloatDtype, type KvDtype,
  type Optimizer, type TrainingInput, type WeightScheme,
} from '../../shared/estimator/index.ts';
import type { ResolvedModel } from './model.ts';

export const ESTIMATE_OPTIONS = {
  config: { type: 'string' }, model: { type: 'string' }, dtype: { type: 'string' }, quant: { type: 'string' },
  'group-size': { type: 'string' }, 'kv-dtype': { type: 'string' }, batch: { type: 'string' }, seq: { type: 'string' },
  'new-tokens': { type: 'string' }, attn: { type: 'string' }, logits: { type: 'string' }, 'logits-fp32': { type: 'boolean' },
  engine: { type: 'string' }, 'max-cache-len': { type: 'string' }, 'gpu-util': { type: 'string' }, 'block-size': { type: 'string' }, 'max-batched-tokens': { type: 'string' },
  'no-cuda-graphs': { type: 'boolean' }, 'n-ctx': { type: 'string' }, ubatch: { type: 'string' }, 'no-flash-attn': { type: 'boolean' },
  tp: { type: 'string' }, pp: { type: 'string' }, gpu: { type: 'string' }, headroom: { type: 'string' },
  train: { type: 'boolean' }, optimizer: { type: 'string' }, zero: { type: 'string' }, dp: { type: 'string' },
  checkpointing: { type: 'boolean' }, 'no-mixed-precision': { type: 'boolean' }, offload: { type: 'string' },
  solve: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
} as const;

export type EstimateFlags = { [K in keyof typeof ESTIMATE_OPTIONS]?: (typeof ESTIMATE_OPTIONS)[K]['type'] extends 'boolean' ? boolean : string };

function int(flag: string, v: string | undefined, fallback: number, min = 1): number {
  if (v === undefined) return fallback;
  if (!/^\d+$/.test(v.trim()) || Number(v) < min || !Number.isSafeInteger(Number(v))) throw new EstimateError(`--${flag} must be a whole number ≥ ${min}, got "${v}"`);
  return Number(v);
}

function fraction(flag: string, v: string | undefined, fallback: number, lo: number, hi: number): number {
  if (v === undefined) return fallback;
  const x = Number(v);
  if (!Number.isFinite(x) || x < lo || x > hi) throw new EstimateError(`--${flag} must be a number from ${lo} to ${hi}, got "${v}"`);
  return x;
}

function oneOf<T extends string>(flag: string, v: string | undefined, allowed: readonly T[], fallback: T): T {
  if (v === undefined) return fallback;
  const x = v.toLowerCase();
  if (!(allowed as readonly string[]).includes(x)) throw new EstimateError(`--${flag} must be one of ${allowed.join(', ')}; got "${v}"`);
  return x as T;
}

function engineFrom(f: EstimateFlags, gguf: boolean): Engine {
  const kind = oneOf('engine', f.engine, ['hf', 'hf-dynamic', 'hf-static', 'vllm', 'llamacpp', 'llama.cpp'] as const, gguf ? 'llamacpp' : 'hf');
  if (kind === 'vllm') {
    return {
      kind, gpuMemoryUtilization: fraction('gpu-util', f['gpu-util'], 0.9, 0.01, 1), blockSize: int('block-size', f['block-size'], 16),
      ...(f['max-batched-tokens'] ? { maxNumBatchedTokens: int('max-batched-tokens', f['max-batched-tokens'], 8192) } : {}),
      cudaGraphs: !f['no-cuda-graphs'],
    };
  }
  if (kind === 'llamacpp' || kind === 'llama.cpp') {
    return { kind: 'llamacpp', ...(f['n-ctx'] ? { nCtx: int('n-ctx', f['n-ctx'], 4096) } : {}), nUbatch: int('ubatch', f.ubatch, 512), flashAttention: !f['no-flash-attn'] };
  }
  if (f['max-cache-len'] !== undefined && kind !== 'hf-static') throw new EstimateError('--max-cache-len sizes a StaticCache: add --engine hf-static');
  if (kind !== 'hf-static') return { kind: 'hf-dynamic' };
  if (f['max-cache-len'] === undefined) return { kind };
  const maxCacheTokens = int('max-cache-len', f['max-cache-len'], 1);
  const needed = int('seq', f.seq, 2048) + int('new-tokens', f['new-tokens'], 0, 0);
  if (maxCacheTokens < needed) {
    throw new EstimateError(`--max-cache-len ${maxCacheTokens} cannot hold the prompt and the new tokens (--seq + --new-tokens = ${needed}): raise it to at least ${needed}`);
  }
  return { kind, maxCacheTokens };
}

function trainingFrom(f: EstimateFlags): TrainingInput | null {
  if (!f.train) return null;
  const zero = int('zero', f.zero, 0, 0);
  if (zero > 3) throw new EstimateError(`--zero must be 0, 1, 2 or 3, got "${f.zero}"`);
  return {
    optimizer: oneOf<Optimizer>('optimizer', f.optimizer, ['adamw', 'adamw-8bit', 'sgd', 'sgd-momentum'], 'adamw'),
    mixedPrecision: !f['no-mixed-precision'], zeroStage: zero as 0 | 1 | 2 | 3, dataParallel: int('dp', f.dp, 1),
    checkpointing: f.checkpointing === true,
    offload: oneOf('offload', f.offload, ['none', 'optimizer', 'optimizer+params'] as const, 'none'),
  };
}

export function buildInput(f: EstimateFlags, r: ResolvedModel): EstimateInput {
  const gpuId = f.gpu ?? 'h200';
  const gpu = findGpu(gpuId);
  if (!gpu) throw new EstimateError(`--gpu "${gpuId}" is not in the catalog: ${GPUS.map((g) => g.id).join(', ')}`);
  const dtype = oneOf<FloatDtype>('dtype', f.dtype, ['fp32', 'fp16', 'bf16'], r.model.defaultDtype);
  const attn = oneOf('attn', f.attn, ['sdpa', 'eager', 'flash'] as const, 'sdpa');
  return {
    model: r.model,
    weightsBytesExact: r.weightsBytesExact,
    dtype,
    weightScheme: oneOf<WeightScheme>('quant', f.quant, WEIGHT_SCHEMES, r.scheme ?? dtype),
    quantGroupSize: int('group-size', f['group-size'], 128),
    kvDtype: oneOf<KvDtype>('kv-dtype', f['kv-dtype'], KV_DTYPES, dtype),
    batch: int('batch', f.batch, 1),
    promptTokens: int('seq', f.seq, 2048),
    newTokens: int('new-tokens', f['new-tokens'], 0, 0),
    attention: attn,
    logits: oneOf('logits', f.logits, ['last', 'all'] as const, 'last'),
    logitsFp32: f['logits-fp32'] === true,
    engine: engineFrom(f, r.gguf),
    tp: int('tp', f.tp, 1),
    pp: int('pp', f.pp, 1),
    gpu,
    headroomFraction: fraction('headroom', f.headroom, 0.05, 0, 0.99),
    training: trainingFrom(f),
  };
}
