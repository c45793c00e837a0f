/**
 * One decoder layer of a Hugging Face model (transformers 5) as allocations and frees against the
 * caching-allocator model, in the order the Python code creates and drops each tensor: LlamaRMSNorm,
 * attention (projections, RoPE, DynamicCache copies, flash / mem-efficient / math SDPA or eager), LlamaMLP,
 * Mixtral/DeepSeek MoE and DeepSeek MLA. Sizes come from ForwardShape; nothing here is fitted.
 */
import type { CachingAllocator, Handle } from './allocator.ts';
import { attention } from './attention.ts';
import { norm, rmsNorm } from './norm.ts';

export interface ForwardShape {
  /** Activation dtype (bf16 eager softmax converts to an fp32 copy first; fp16 has a fused path). */
  dtype: 'fp32' | 'fp16' | 'bf16';
  batch: number;
  seq: number;
  /** Activation bytes per element (2 or 4). */
  bytes: number;
  hidden: number;
  /** Per TP rank. */
  heads: number;
  kvHeads: number;
  headDim: number;
  intermediate: number;
  /** lm_head's output columns on this rank (the vocabulary split over TP ranks). */
  vocab: number;
  /** The whole vocabulary: under TP, transformers' lm_head (colwise_gather_output) gathers the logits to it. */
  fullVocab: number;
  layers: number;
  attention: 'flash' | 'efficient' | 'math' | 'eager';
  /**
   * Code path of the decoder: Llama (also Mistral, Qwen2/3, Mixtral, DeepSeek); Phi-3 (fused qkv_proj and
   * gate_up_proj, whose outputs live until the module returns); Gemma-2 (four norms per layer computed in fp32,
   * scaled embeddings, soft-capped eager scores and logits).
   */
  arch: 'llama' | 'phi3' | 'gemma2';
  /** Per-head RMSNorm on q and k after their projections (Qwen3). */
  qkNorm: boolean;
  /** Decode steps replayed after the prefill (one new token per sequence each). */
  decodeSteps: number;
  /** Bytes the forward's allocator may reserve (GPU memory less context, weights and workspace); Infinity: unbounded. */
  capacityBytes: number;
  /** Sliding-window size of the local layers (every layer, or the even ones when `slidingAlternate`), or null. */
  slidingWindow: number | null;
  slidingAlternate: boolean;
  logitsAll: boolean;
  logitsFp32: boolean;
  /** KV bytes per element when the cache stores another type than the activations (quantized cache). */
  kvBytes: number;
  /** Tokens the static cache holds per sequence, or null for the dynamic cache. */
  staticCacheTokens: number | null;
  /**
   * `router`: how transformers 5 routes — 'softmax' (Mixtral: fp32 routing weights), 'softmax-cast' (Qwen-MoE:
   * weights cast back to the model dtype), 'fp32-linear' (DeepSeek: the router's linear in fp32, scaled weights).
   */
  moe: {
    experts: number; topK: number; intermediate: number; sharedWidth: number; denseLayers: number; router: 'softmax' | 'softmax-cast' | 'fp32-linear';
    /** Qwen2-MoE: the shared expert runs first and is scaled by sigmoid(shared_expert_gate(x)) before the sum. */
    sharedGate: boolean;
  } | null;
  /** Multi-head latent attention; `complexRope`: DeepSeek-V2's view_as_complex rotation (V3: rotate_half). */
  mla: { kvLoraRank: number; qLoraRank: number | null; qkHeadDim: number; ropeDim: number; vHeadDim: number; complexRope: boolean } | null;
  /** Free tails of the weights' segments (bytes): cached blocks the forward's 1–20 MiB requests can use. */
  weightTails: number[];
  /** Identifies weightTails in memo keys (the weights layout they come from). */
  weightTailsKey: string;
}

export interface ForwardResult {
  /** max_memory_allocated above what was allocated before the forward. */
  peakBytes: number;
  /** Segments the forward added (reserved grows from a state emptied by empty_cache). */
  reservedBytes: number;
  /** Allocated after the forward: KV cache + logits + input ids. */
  residentBytes: number;
  kvBytes: number;
  /** Where the peak happened: layer norm, attention, attention scores, MLP, MoE or logits. */
  peakPhase: string;
  /** Segments held after the decode steps (reservedBytes when there are none). */
  decodeReservedBytes: number;
  /** max_memory_allocated over the decode steps above what was allocated before the forward (0: no steps). */
  decodePeakBytes: number;
  /** Some request did not fit in capacityBytes even after the cached segments were released: PyTorch would OOM. */
  overCapacity: boolean;
}

type A = CachingAllocator;

/** Whether `layer` is a sliding-window (local) layer: every layer, or the even ones when the pattern alternates. */
export function isLocalLayer(s: ForwardShape, layer: number): boolean {
  return s.slidingWindow !== null && (!s.slidingAlternate || layer % 2 === 0);
}

/**
 * Tokens of `layer`'s StaticCache buffer (transformers' StaticLayer: max_cache_len; StaticSlidingWindowLayer: the
 * window when that is shorter), or null with a dynamic cache.
 */
export function staticLayerTokens(s: ForwardShape, layer: number): number | null {
  if (s.staticCacheTokens === null) return null;
  return isLocalLayer(s, layer) ? Math.min(s.slidingWindow!, s.staticCacheTokens) : s.staticCacheTokens;
}

/**
 * The layer's KV cache: `cache[2·layer]`, `cache[2·layer + 1]` hold its K and V blocks. In the prefill
 * (`kvLen` null) the layer stores its copies there; in a decode step the cache holds `kvLen` tokens after the
 * step, and DynamicCache's torch.cat allocates the grown K and V, freeing the old ones.
 */
export interface KvContext {
  cache: (Handle | null)[];
  layer: number;
  kvLen: number | null;
}

function mlp(m: A, tokens: number, width: number, s: ForwardShape): Handle | null {
  m.phase = 'MLP (gate, act, up, product)';
  const B = s.bytes;
  if (s.arch === 'phi3') {
    // gate, up = gate_up_proj(x).chunk(2): views, so the fused output lives until forward returns.
    const gu = m.malloc(tokens * 2 * width * B);
    const act = m.malloc(tokens * width * B);
    const prod = m.malloc(tokens * width * B);
    m.free(act);
    const down = m.malloc(tokens * s.hidden * B);
    m.free(prod);
    m.free(gu);
    return down;
  }
  const g = m.malloc(tokens * width * B);
  const act = m.malloc(tokens * width * B);
  m.free(g);
  const u = m.malloc(tokens * width * B);
  const prod = m.malloc(tokens * width * B);
  m.free(act);
  m.free(u);
  const down = m.malloc(tokens * s.hidden * B);
  m.free(prod);
  return down;
}

/**
 * The router of a transformers 5 MoE block: its logits, the routing weights and the expert indices, which the block
 * keeps until it returns (the `_` of `_, weights, index = self.gate(x)` holds the logits), and the weights' bytes.
 */
function router(m: A, T: number, s: ForwardShape): { logits: Handle | null; weights: Handle | null; index: Handle | null; weightBytes: number } {
  const { experts: E, topK: K, router: kind } = s.moe!;
  const B = s.bytes;
  if (kind === 'fp32-linear') {
    // DeepseekV2TopkRouter: F.linear(x.float(), weight.float()), softmax, topk, weights × routed_scaling_factor.
    const x32 = B < 4 ? m.malloc(T * s.hidden * 4) : null;
    const w32 = B < 4 ? m.malloc(E * s.hidden * 4) : null;
    const logits = m.malloc(T * E * 4);
    m.free(x32);
    m.free(w32);
    const probs = m.malloc(T * E * 4);
    const top = m.malloc(T * K * 4);
    const index = m.malloc(T * K * 8);
    const scaled = m.malloc(T * K * 4);
    m.free(top);
    m.free(probs);
    return { logits, weights: scaled, index, weightBytes: 4 };
  }
  // Mixtral / Qwen-MoE: logits in the model dtype, softmax over an fp32 copy, topk.
  const logits = m.malloc(T * E * B);
  const conv = B < 4 ? m.malloc(T * E * 4) : null;
  const probs = m.malloc(T * E * 4);
  m.free(conv);
  const top = m.malloc(T * K * 4);
  const index = m.malloc(T * K * 8);
  let weights = top;
  if (kind === 'softmax') m.free(m.malloc(T * 4)); // router_top_value /= sum(...)
  else if (B < 4) {
    weights = m.malloc(T * K * B); // .to(router_logits.dtype)
    m.free(top);
  }
  m.free(probs);
  return { logits, weights, index, weightBytes: kind === 'softmax' ? 4 : B };
}

/**
 * grouped_mm_experts_forward (transformers 5 integrations/moe.py, the default experts implementation): every
 * token's K (token, expert) pairs sorted by expert and run as one grouped GEMM, S = T·K rows at a time: the gathered
 * inputs (S·h), gate_up (S·2I, then masked_fill'ed into a copy), act·up (S·I), down (S·h, masked copy), weighted by
 * the routing weights (fp32 when they are), restored to token order and summed over K. Checked against H200
 * allocator traces of Mixtral-8x7B, Qwen3-30B-A3B and DeepSeek-V2-Lite layers.
 */
function groupedExperts(m: A, T: number, s: ForwardShape, weightBytes: number): Handle | null {
  m.phase = 'MoE experts (grouped GEMM over every token × expert pair)';
  const { experts: E, topK: K, intermediate: I } = s.moe!;
  const B = s.bytes;
  const h = s.hidden;
  const S = T * K;
  const sorted = m.malloc(S * 8); // torch.sort(expert_ids): values and permutation (int64)
  const perm = m.malloc(S * 8);
  const keys = m.malloc(S * 8);
  m.free(m.malloc(Math.ceil(SORT_WORKSPACE_PER_ROW * S) + SORT_WORKSPACE_BASE)); // the radix sort's temporary storage
  m.free(keys);
  const rows = m.malloc(S * 8); // perm // top_k
  const gathered = m.malloc(S * h * B);
  m.free(rows);
  const sampleWeights = m.malloc(S * weightBytes);
  const ids = m.malloc(S * 4); // expert_ids_g.int() for histc
  const counts = m.malloc(E * 4);
  const offsets = m.malloc(E * 4);
  const sentinel = m.malloc(S);
  const gateUp = m.malloc(S * 2 * I * B);
  const gateUpMasked = m.malloc(S * 2 * I * B);
  m.free(gateUp);
  const act = m.malloc(S * I * B);
  const gated = m.malloc(S * I * B);
  m.free(act);
  m.free(gateUpMasked);
  const down = m.malloc(S * h * B);
  m.free(gated);
  const downMasked = m.malloc(S * h * B);
  m.free(down);
  const outBytes = Math.max(B, weightBytes); // proj_out · sample_weights promotes to fp32 with fp32 weights
  const weighted = m.malloc(S * h * outBytes);
  const inverse = m.malloc(S * 8);
  m.free(m.malloc(S * 8)); // arange for inv_perm[perm]
  const reordered = m.malloc(S * h * outBytes);
  m.free(weighted);
  const summed = m.malloc(T * h * outBytes);
  const out = outBytes !== B ? m.malloc(T * h * B) : summed;
  for (const x of [sorted, perm, gathered, sampleWeights, ids, counts, offsets, sentinel, downMasked, reordered, inverse]) m.free(x);
  if (out !== summed) m.free(summed);
  return out;
}

/** torch.sort's CUDA radix-sort temporary bytes per (token, expert) row and fixed part (three H200 traces, ±0.1 %). */
const SORT_WORKSPACE_PER_ROW = 16.23;
const SORT_WORKSPACE_BASE = 17_000;

/**
 * A transformers 5 MoE block: router, grouped experts, then (DeepSeek) the shared experts' MLP added; Qwen2-MoE runs
 * its shared expert first and gates it (Qwen2MoeSparseMoeBlock, read from the source; not measured).
 */
function moeBlock(m: A, T: number, s: ForwardShape): Handle | null {
  const e = s.moe!;
  const H = T * s.hidden * s.bytes;
  const shared = e.sharedWidth > 0 && e.sharedGate ? mlp(m, T, e.sharedWidth, s) : null;
  m.phase = 'MoE router';
  const r = router(m, T, s);
  let out = groupedExperts(m, T, s, r.weightBytes);
  if (shared) {
    const gateLogit = m.malloc(T * s.bytes);
    const gate = m.malloc(T * s.bytes);
    m.free(gateLogit);
    const gated = m.malloc(H);
    m.free(gate);
    m.free(shared);
    const sum = m.malloc(H);
    m.free(out);
    m.free(gated);
    out = sum;
  } else if (e.sharedWidth > 0) {
    const sh = mlp(m, T, e.sharedWidth, s);
    const sum = m.malloc(H);
    m.free(sh);
    m.free(out);
    out = sum;
  }
  m.free(r.logits);
  m.free(r.weights);
  m.free(r.index);
  return out;
}

/** One decoder layer; `masked`: its SDPA call gets a materialised mask (a sliding-window layer at s ≥ window). */
export function decoderLayer(m: A, s: ForwardShape, T: number, moe: boolean, masked: boolean, kvc: KvContext): Handle | null {
  const H = T * s.hidden * s.bytes;
  const n1 = norm(m, s, T * s.hidden, T);
  // `hidden_states, _ = self.self_attn(...)`: `_` keeps eager attention probabilities alive until the layer returns.
  const { out: attn, held } = attention(m, s, T, masked, kvc);
  m.free(n1);
  let a = attn;
  if (s.arch === 'gemma2') {
    a = rmsNorm(m, T * s.hidden, T, s.bytes, true); // post_attention_layernorm
    m.free(attn);
  }
  const residual = m.malloc(H);
  m.free(a);
  const n2 = norm(m, s, T * s.hidden, T);
  let ff = moe ? moeBlock(m, T, s) : mlp(m, T, s.intermediate, s);
  m.free(n2);
  if (s.arch === 'gemma2') {
    const pf = rmsNorm(m, T * s.hidden, T, s.bytes, true); // post_feedforward_layernorm
    m.free(ff);
    ff = pf;
  }
  const out = m.malloc(H);
  m.free(ff);
  m.free(residual);
  m.free(held);
  return out;
}
