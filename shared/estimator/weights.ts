/**
 * Parameter counts and weight bytes from a ModelSpec, per GPU under tensor and pipeline parallelism.
 * Each tensor is listed with its shape so quantized packing and the allocator's rounding are exact.
 */
import { FLOAT_BYTES, keepsEmbeddings16, linearBytes } from './dtypes.ts';
import type { FloatDtype, ModelSpec, WeightScheme } from './types.ts';

/** One weight tensor of one layer (or of the model body), already divided for this TP rank. */
export interface WeightTensor {
  /** linear: [out, in] matrix (quantizable); vector: norms and biases; embedding: embed/lm_head. */
  kind: 'linear' | 'vector' | 'embedding';
  out: number;
  in: number;
  /** How many identical tensors (MoE experts). */
  count: number;
}

export interface WeightsPlan {
  /** Tensors of one decoder layer of each distinct kind, with how many layers share that shape. */
  layerGroups: { layers: number; tensors: WeightTensor[] }[];
  embed: WeightTensor;
  lmHead: WeightTensor | null;
  finalNorm: WeightTensor;
}

const lin = (out: number, inp: number, count = 1): WeightTensor => ({ kind: 'linear', out, in: inp, count });
const vec = (n: number, count = 1): WeightTensor => ({ kind: 'vector', out: n, in: 1, count });

/** KV heads held by one TP rank: heads are split, and replicated when tp exceeds them (vLLM get_num_kv_heads). */
export function kvHeadsPerRank(kvHeads: number, tp: number): number {
  return Math.max(1, Math.floor(kvHeads / tp));
}

function attentionTensors(m: ModelSpec, tp: number): WeightTensor[] {
  const h = m.hidden;
  const a = m.heads / tp;
  if (m.mla) {
    const q = m.mla;
    const qk = q.qkNopeHeadDim + q.qkRopeHeadDim;
    const t: WeightTensor[] = [];
    if (q.qLoraRank) t.push(lin(q.qLoraRank, h), vec(q.qLoraRank), lin(a * qk, q.qLoraRank));
    else t.push(lin(a * qk, h));
    // kv_a_proj_with_mqa and its norm are replicated on every rank; kv_b_proj and o_proj are split.
    t.push(lin(q.kvLoraRank + q.qkRopeHeadDim, h), vec(q.kvLoraRank), lin(a * (q.qkNopeHeadDim + q.vHeadDim), q.kvLoraRank));
    t.push(lin(h, a * q.vHeadDim));
    return t;
  }
  const d = m.headDim;
  const kv = kvHeadsPerRank(m.kvHeads, tp);
  const t = [lin(a * d, h), lin(kv * d, h), lin(kv * d, h), lin(h, a * d)];
  if (m.qkvBias) t.push(vec(a * d + 2 * kv * d));
  if (m.outBias) t.push(vec(h));
  if (m.qkNorm) t.push(vec(d, 2));
  return t;
}

function mlpTensors(h: number, width: number, count: number, bias: boolean): WeightTensor[] {
  const t = [lin(width, h, count), lin(width, h, count), lin(h, width, count)];
  if (bias) t.push(vec(2 * width + h, count));
  return t;
}

/**
 * The tensor list of the model as one TP rank holds it (all layers, before pipeline split). `embedSharded`: the
 * input embedding is split over the vocabulary (vLLM's VocabParallelEmbedding); transformers' tp_plan keeps it whole
 * on every rank and splits only lm_head (colwise, output gathered), as seen on two H200s (h200_tp2.jsonl).
 */
export function weightsPlan(m: ModelSpec, tp = 1, embedSharded = true): WeightsPlan {
  const h = m.hidden;
  const norms = vec(h * (m.layerNormBias ? 2 : 1), m.normsPerLayer);
  const attn = attentionTensors(m, tp);
  const groups: WeightsPlan['layerGroups'] = [];
  if (m.moe) {
    const e = m.moe;
    const dense = Math.min(e.firstDenseLayers, m.layers);
    if (dense > 0) groups.push({ layers: dense, tensors: [...attn, ...mlpTensors(h, m.intermediate / tp, 1, m.outBias), norms] });
    const moe: WeightTensor[] = [...attn, lin(e.experts, h), ...mlpTensors(h, e.intermediate / tp, e.experts, m.outBias), norms];
    if (e.sharedExperts > 0) moe.push(...mlpTensors(h, (e.sharedIntermediate * e.sharedExperts) / tp, 1, m.outBias));
    if (m.family === 'qwen2_moe' && e.sharedExperts > 0) moe.push(vec(h)); // shared_expert_gate [1, h]
    if (m.family === 'deepseek_v3') moe.push(vec(e.experts)); // e_score_correction_bias
    if (m.layers - dense > 0) groups.push({ layers: m.layers - dense, tensors: moe });
  } else {
    groups.push({ layers: m.layers, tensors: [...attn, ...mlpTensors(h, m.intermediate / tp, 1, m.outBias), norms] });
  }
  const embed: WeightTensor = { kind: 'embedding', out: embedSharded ? Math.ceil(m.vocab / tp) : m.vocab, in: h, count: 1 };
  const lmHead: WeightTensor = { kind: 'embedding', out: Math.ceil(m.vocab / tp), in: h, count: 1 };
  return { layerGroups: groups, embed, lmHead: m.tiedEmbeddings ? null : lmHead, finalNorm: vec(h * (m.layerNormBias ? 2 : 1)) };
}

const numel = (t: WeightTensor): number => t.out * t.in * t.count;

/** Total parameters of the model (TP = 1). */
export function paramCount(m: ModelSpec): number {
  const p = weightsPlan(m, 1);
  let n = numel(p.embed) + (p.lmHead ? numel(p.lmHead) : 0) + numel(p.finalNorm);
  for (const g of p.layerGroups) n += g.layers * g.tensors.reduce((s, t) => s + numel(t), 0);
  return n;
}

/** Bytes of one tensor under a storage scheme. GGUF keeps 1-D tensors in f32; HF quantizers keep them 16-bit. */
export function tensorBytes(t: WeightTensor, scheme: WeightScheme, dtype: FloatDtype, groupSize = 128): number {
  const b16 = FLOAT_BYTES[dtype] === 4 ? 2 : FLOAT_BYTES[dtype];
  const gguf = scheme.startsWith('q');
  if (t.kind === 'vector') return numel(t) * (gguf ? 4 : scheme === 'fp32' ? 4 : keepsEmbeddings16(scheme) ? b16 : FLOAT_BYTES[scheme as FloatDtype]);
  if (t.kind === 'embedding') {
    if (gguf) return linearBytes(scheme, t.out, t.in) * t.count;
    if (keepsEmbeddings16(scheme)) return numel(t) * b16;
    return numel(t) * FLOAT_BYTES[scheme as FloatDtype];
  }
  return linearBytes(scheme, t.out, t.in, groupSize) * t.count;
}

/** The tensor sizes of one kind of decoder layer and how many consecutive layers have them. */
export interface LayerGroupBytes {
  layers: number;
  sizes: number[];
}

export interface WeightsBreakdown {
  params: number;
  /** Bytes on the busiest GPU (first pipeline stage with its share of layers). */
  perGpuBytes: number;
  /** Bytes of the whole checkpoint (all ranks, TP = 1). */
  totalBytes: number;
  /** Sizes of the tensors of the largest decoder layer one GPU holds. */
  layerTensorBytes: number[];
  /** Every kind of decoder layer in model order (DeepSeek: dense layers, then MoE) with how many this GPU holds. */
  layerGroups: LayerGroupBytes[];
  layersPerGpu: number;
  bodyTensorBytes: number[];
}

/** GGUF K-quant files keep output.weight at Q6_K; other schemes store lm_head like the embedding. */
function lmHeadScheme(scheme: WeightScheme): WeightScheme {
  return scheme.startsWith('q') && scheme !== 'q8_0' ? 'q6_k' : scheme;
}

export function weightsBreakdown(m: ModelSpec, scheme: WeightScheme, dtype: FloatDtype, tp = 1, pp = 1, groupSize = 128, embedSharded = true): WeightsBreakdown {
  const bytesOf = (p: WeightsPlan, layersShare: (layers: number) => number): { total: number; layer: number[]; groups: LayerGroupBytes[]; body: number[] } => {
    let total = tensorBytes(p.finalNorm, scheme, dtype) + tensorBytes(p.embed, scheme, dtype);
    const body = [tensorBytes(p.embed, scheme, dtype)];
    if (p.lmHead) {
      const lm = tensorBytes(p.lmHead, lmHeadScheme(scheme), dtype);
      total += lm;
      body.push(lm);
    }
    let layer: number[] = [];
    const groups: LayerGroupBytes[] = [];
    for (const g of p.layerGroups) {
      // MoE experts are fused 3-D parameters in transformers 5 ([experts, out, in]): one allocation per kind.
      const sizes = g.tensors.map((t) => tensorBytes(t, scheme, dtype, groupSize));
      total += layersShare(g.layers) * sizes.reduce((s, x) => s + x, 0);
      if (sizes.reduce((s, x) => s + x, 0) > layer.reduce((s, x) => s + x, 0)) layer = sizes;
      groups.push({ layers: layersShare(g.layers), sizes });
    }
    return { total, layer, groups, body };
  };
  const whole = bytesOf(weightsPlan(m, 1), (l) => l);
  const plan = weightsPlan(m, tp, embedSharded);
  const layersPerGpu = Math.ceil(m.layers / pp);
  const rank = bytesOf(plan, (l) => (pp === 1 ? l : Math.ceil((l * layersPerGpu) / m.layers)));
  // With PP the first stage holds the embedding, the last the lm_head: the busiest holds the larger one.
  let perGpu = rank.total;
  if (pp > 1 && plan.lmHead) perGpu -= Math.min(tensorBytes(plan.embed, scheme, dtype), tensorBytes(plan.lmHead, lmHeadScheme(scheme), dtype));
  // The busiest stage's layers, in model order (the first stage holds DeepSeek's dense layers).
  let left = layersPerGpu;
  const layerGroups = rank.groups.flatMap((g) => {
    const n = Math.min(g.layers, left);
    left -= n;
    return n > 0 ? [{ layers: n, sizes: g.sizes }] : [];
  });
  return { params: paramCount(m), perGpuBytes: perGpu, totalBytes: whole.total, layerTensorBytes: rank.layer, layerGroups, layersPerGpu, bodyTensorBytes: rank.body };
}
