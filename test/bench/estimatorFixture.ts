/**
 * The H200 ground truth as estimator inputs and measured values, one entry per completed prefill run: the
 * calibration fixture (test/fixtures/groundtruth/h200_calibration.jsonl), the held-out capture of models the
 * estimator was never calibrated on (h200_heldout.jsonl) and tensor-parallel runs on two H200s, one line per rank
 * (h200_tp2.jsonl, transformers' tp_plan="auto"). Shared by the accuracy bench and the unit tests.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { findGpu, modelFromHfConfig, type EstimateInput } from '../../shared/estimator/index.ts';

const fixture = (name: string): URL => new URL(`../fixtures/groundtruth/${name}`, import.meta.url);

const Run = z.object({
  kind: z.literal('run'),
  model: z.string(),
  dtype: z.enum(['fp32', 'fp16', 'bf16']),
  config: z.record(z.string(), z.union([z.number(), z.boolean(), z.null()])),
  /** Weights on the GPU (per rank in the TP capture, which names them weight_bytes_rank). */
  weight_bytes: z.number(),
  /** TP degree and this line's rank (TP capture only). */
  tp: z.number().int().positive().optional(),
  rank: z.number().int().nonnegative().optional(),
  /** StaticCache capture only: the cache's length in tokens (transformers' max_cache_len). */
  max_cache_len: z.number().int().positive().optional(),
  /** Recorded in a process of its own (no address ranges freed by earlier runs for the driver to hand back). */
  fresh_process: z.boolean().optional(),
  /** HF model_type (held-out file); the calibration file names llama and qwen2 models only. */
  model_type: z.string().optional(),
  attn: z.enum(['sdpa', 'eager']),
  logits_to_keep: z.number(),
  batch: z.number(),
  seq: z.number(),
  prefill_peak: z.number(),
  kv_bytes: z.number(),
  reserved_after_prefill: z.number(),
  nvml_after_prefill: z.number(),
  decode_peak: z.number(),
  decode_steps: z.number(),
  kv_bytes_after_decode: z.number(),
  reserved_after_decode: z.number(),
  nvml_after_decode: z.number(),
});
export type CalibrationRun = z.infer<typeof Run>;

export interface CalibrationCase {
  label: string;
  run: CalibrationRun;
  input: EstimateInput;
}

export function loadCalibration(): CalibrationCase[] {
  return load('h200_calibration.jsonl');
}

/** Tensor parallel over two H200s (16-layer Llama-3-8B, tp_plan="auto"): every rank's runs. */
export function loadTensorParallel(): CalibrationCase[] {
  return load('h200_tp2.jsonl');
}

/** transformers' StaticCache (engine hf-static) on one H200: Llama-3-8B, Qwen2.5-0.5B and Gemma-2-2B shapes. */
export function loadStaticCache(): CalibrationCase[] {
  return load('h200_static.jsonl');
}

/** MoE and MLA models of real widths and fewer layers (Mixtral-8x7B, Qwen3-30B-A3B, DeepSeek-V2-Lite) on one H200. */
export function loadMoe(): CalibrationCase[] {
  return load('h200_moe.jsonl');
}

/** The held-out runs: Llama-3-8B again (it reproduces the calibration runs) and six uncalibrated models. */
export function loadHeldOut(): CalibrationCase[] {
  return load('h200_heldout.jsonl').filter((c) => c.run.model !== 'llama-3-8b');
}

function load(name: string): CalibrationCase[] {
  const out: CalibrationCase[] = [];
  for (const line of readFileSync(fixture(name), 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const raw: unknown = JSON.parse(line);
    const parsed = Run.safeParse(perRank(raw));
    if (!parsed.success) continue; // context / loaded / done lines, and OOM runs (no peak)
    const r = parsed.data;
    const modelType = r.model_type ?? (r.model.startsWith('qwen') ? 'qwen2' : 'llama');
    const model = modelFromHfConfig({ ...r.config, model_type: modelType, max_position_embeddings: 16384 }, r.model);
    out.push({
      label: `${r.model} ${r.dtype} ${r.attn}${r.logits_to_keep === 0 ? ' all-logits' : ''} b${r.batch}×s${r.seq}${r.tp ? ` TP ${r.tp} rank ${r.rank}` : ''}${r.max_cache_len ? ` static ${r.max_cache_len}` : ''}${r.fresh_process ? ' (fresh process)' : ''}`,
      run: r,
      input: {
        model, dtype: r.dtype, batch: r.batch, promptTokens: r.seq, attention: r.attn,
        logits: r.logits_to_keep === 0 ? 'all' : 'last', gpu: findGpu('h200')!, ...(r.tp ? { tp: r.tp } : {}),
        ...(r.max_cache_len ? { engine: { kind: 'hf-static', maxCacheTokens: r.max_cache_len } } : {}),
      },
    });
  }
  return out;
}

/** The TP capture names a rank's weights weight_bytes_rank. */
function perRank(raw: unknown): unknown {
  if (typeof raw !== 'object' || raw === null || !('weight_bytes_rank' in raw)) return raw;
  return { ...raw, weight_bytes: raw.weight_bytes_rank };
}
