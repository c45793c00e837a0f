/**
 * One decoder layer of a Hugging Face model (transformers 5) as allocations and frees against the
 * caching-allocator model, in the order the Python code creates and drops each tensor: LlamaRMSNorm,
 * attention (projections, RoPE, DynamicCache copies, flash / mem-efficient / math SDPA or eager), LlamaMLP,
 * Mixtral/DeepSeek MoE and DeepSeek MLA. Sizes come from ForwardShape; nothing here is fitted.
 */
import type { CachingAllocator, Handle } from './allocator.ts';

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
  vocab: number;
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
  moe: { experts: number; topK: number; intermediate: number; sharedWidth: number; denseLayers: number } | null;
  mla: { kvLoraRank: number; qLoraRank: number | null; qkHeadDim: number; ropeDim: number; vHeadDim: number } | null;
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

/**
 * LlamaRMSNorm: x.to(fp32); variance = x.pow(2).mean(-1) (a local, freed on return); x * rsqrt(variance + eps);
 * weight * x.to(dtype). `gemma`: Gemma2RMSNorm, `_norm(x.float()) * (1 + weight.float())` then `type_as(x)`: the
 * variance is a temporary (freed at once) and the product stays fp32 until the final cast.
 */
export function rmsNorm(m: A, n: number, tokens: number, B: number, gemma = false): Handle | null {
  m.phase = 'RMSNorm fp32 temporaries';
  const x32 = B < 4 ? m.malloc(n * 4) : null;
  const pow = m.malloc(n * 4);
  const v = m.malloc(tokens * 4);
  m.free(pow);
  const ve = m.malloc(tokens * 4);
  if (gemma) m.free(v);
  const rs = m.malloc(tokens * 4);
  m.free(ve);
  const y32 = m.malloc(n * 4);
  m.free(rs);
  m.free(x32);
  if (gemma) {
    const prod = m.malloc(n * 4);
    m.free(y32);
    if (B === 4) return prod;
    const out = m.malloc(n * B);
    m.free(prod);
    return out;
  }
  const yb = B < 4 ? m.malloc(n * B) : null;
  const out = m.malloc(n * B);
  m.free(yb);
  m.free(y32);
  m.free(v);
  return out;
}

/** The model's norm: Llama-style RMSNorm or Gemma's. */
export function norm(m: A, s: ForwardShape, n: number, tokens: number): Handle | null {
  return rmsNorm(m, n, tokens, s.bytes, s.arch === 'gemma2');
}

/** apply_rotary_pos_emb on one tensor: (x·cos) + (rotate_half(x)·sin). */
function rope(m: A, n: number): Handle | null {
  const xc = m.malloc(n);
  const neg = m.malloc(n / 2);
  const cat = m.malloc(n);
  m.free(neg);
  const xs = m.malloc(n);
  m.free(cat);
  const out = m.malloc(n);
  m.free(xc);
  m.free(xs);
  return out;
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

function moeBlock(m: A, T: number, s: ForwardShape): Handle | null {
  m.phase = 'MoE router and experts';
  const e = s.moe!;
  const B = s.bytes;
  const logits = m.malloc(T * e.experts * B);
  const conv = B < 4 ? m.malloc(T * e.experts * 4) : null;
  const probs = m.malloc(T * e.experts * 4);
  m.free(conv);
  const topW = m.malloc(T * e.topK * 4);
  const topI = m.malloc(T * e.topK * 8);
  m.free(probs);
  const w = m.malloc(T * e.topK * B);
  m.free(topW);
  const final = m.malloc(T * s.hidden * B);
  const mask = m.malloc(T * e.topK * e.experts * 8);
  // One expert's pass (uniform routing); each expert's temporaries are freed before the next.
  const te = Math.ceil((T * e.topK) / e.experts);
  const gathered = m.malloc(te * s.hidden * B);
  const out = mlp(m, te, e.intermediate, s);
  const scaled = m.malloc(te * s.hidden * B);
  m.free(out);
  m.free(gathered);
  m.free(scaled);
  m.free(mask);
  m.free(w);
  m.free(topI);
  m.free(logits);
  if (e.sharedWidth > 0) {
    const sh = mlp(m, T, e.sharedWidth, s);
    const sum = m.malloc(T * s.hidden * B);
    m.free(sh);
    m.free(final);
    return sum;
  }
  return final;
}

/** Scores-materialising attention (eager or the SDPA math kernel); returns the (b, s, a·d) output. */
function scoresAttention(m: A, s: ForwardShape, Q: number, qLen: number, kvLen: number): { out: Handle | null; held: Handle | null } {
  m.phase = s.attention === 'eager' ? 'eager attention scores (b·a·s²)' : 'SDPA math-kernel scores (b·a·s²)';
  const B = s.bytes;
  const scores = s.batch * s.heads * qLen * kvLen;
  const gqa = s.kvHeads !== s.heads;
  const K = s.batch * s.heads * kvLen * s.headDim * B; // K or V with every query head (repeat_kv)
  if (s.attention === 'eager') {
    const kr = gqa ? m.malloc(K) : null; // repeat_kv
    const vr = gqa ? m.malloc(K) : null;
    // matmul reshapes q (b, a, s, d) — laid out as (b, s, a, d) — to (b·a, s, d): a copy unless b = 1 or s = 1 (a view).
    const qc = s.batch > 1 && qLen > 1 ? m.malloc(Q) : null;
    const mm = m.malloc(scores * B);
    m.free(qc);
    const scaled = m.malloc(scores * B);
    m.free(mm);
    let capped = scaled;
    if (s.arch === 'gemma2') {
      // attn_logit_softcapping: / cap, tanh, * cap, each a new tensor.
      for (let i = 0; i < 3; i++) {
        const next = m.malloc(scores * B);
        m.free(capped);
        capped = next;
      }
    }
    const masked = m.malloc(scores * B);
    m.free(capped);
    // softmax(dtype=fp32): fp16 has a half_to_float kernel; bf16 is converted to an fp32 copy first.
    const conv = s.dtype === 'bf16' ? m.malloc(scores * 4) : null;
    const sm = m.malloc(scores * 4);
    m.free(conv);
    const probs = B < 4 ? m.malloc(scores * B) : sm;
    if (B < 4) m.free(sm);
    m.free(masked);
    const o = m.malloc(Q);
    const out = m.malloc(Q); // transpose(1, 2).contiguous()
    m.free(o);
    m.free(kr);
    m.free(vr);
    // eager_attention_forward returns the probabilities too: they live until the layer drops them after o_proj.
    return { out, held: probs };
  }
  // torch _scaled_dot_product_attention_math with enable_gqa, and is_causal in the prefill (a decode step has none).
  let fmask: Handle | null = null;
  if (qLen > 1) {
    const ones = m.malloc(qLen * kvLen);
    const tril = m.malloc(qLen * kvLen);
    m.free(ones);
    fmask = m.malloc(qLen * kvLen * B);
    m.free(tril);
  }
  const q = m.malloc(Q);
  const kr = gqa ? m.malloc(K) : null;
  const vr = gqa ? m.malloc(K) : null;
  const ks = m.malloc(K);
  const attn = m.malloc(scores * B);
  m.free(ks);
  const sm = m.malloc(scores * B);
  const isInf = m.malloc(scores);
  m.free(isInf);
  m.free(attn);
  const o = m.malloc(Q);
  m.free(sm);
  m.free(fmask);
  m.free(q);
  m.free(kr);
  m.free(vr);
  const out = m.malloc(Q);
  m.free(o);
  return { out, held: null };
}

/** q_proj / k_proj output, then (Qwen3) its per-head RMSNorm, which replaces it. */
function projection(m: A, s: ForwardShape, bytes: number, rows: number): Handle | null {
  const p = m.malloc(bytes);
  if (!s.qkNorm) return p;
  const normed = rmsNorm(m, bytes / s.bytes, rows, s.bytes);
  m.free(p);
  return normed;
}

function attention(m: A, s: ForwardShape, T: number, masked: boolean, kvc: KvContext): { out: Handle | null; kv: (Handle | null)[]; held: Handle | null } {
  m.phase = 'attention projections and RoPE';
  const B = s.bytes;
  const h = s.hidden;
  let Q: number;
  let kSize: number;
  let vSize: number;
  let pre: (Handle | null)[] = [];
  let k: Handle | null;
  let v: Handle | null;
  if (s.mla) {
    const c = s.mla;
    Q = T * s.heads * c.qkHeadDim * B;
    kSize = Q;
    vSize = T * s.heads * c.vHeadDim * B;
    const qa = c.qLoraRank ? m.malloc(T * c.qLoraRank * B) : null;
    const q = m.malloc(Q);
    m.free(qa);
    const ckv = m.malloc(T * (c.kvLoraRank + c.ropeDim) * B);
    const kvn = rmsNorm(m, T * c.kvLoraRank, T, B);
    const kvb = m.malloc(T * s.heads * (c.qkHeadDim - c.ropeDim + c.vHeadDim) * B);
    m.free(kvn);
    const kr = rope(m, T * c.ropeDim * B);
    const qr = rope(m, T * s.heads * c.ropeDim * B);
    const qc = s.batch > 1 ? m.malloc(Q) : null;
    m.free(q);
    m.free(qr);
    k = m.malloc(kSize);
    v = m.malloc(vSize);
    m.free(kr);
    m.free(ckv);
    m.free(kvb);
    pre = [qc];
  } else if (s.arch === 'phi3') {
    Q = T * s.heads * s.headDim * B;
    kSize = vSize = T * s.kvHeads * s.headDim * B;
    // qkv = qkv_proj(x); q, k, v are views of it, and the local `qkv` keeps it until forward returns.
    const qkv = m.malloc(Q + kSize + vSize);
    const qe = rope(m, Q);
    k = rope(m, kSize);
    v = null;
    pre = [qe, qkv];
  } else {
    Q = T * s.heads * s.headDim * B;
    kSize = vSize = T * s.kvHeads * s.headDim * B;
    const q = projection(m, s, Q, T * s.heads);
    const k0 = projection(m, s, kSize, T * s.kvHeads);
    v = m.malloc(vSize);
    const qe = rope(m, Q);
    k = rope(m, kSize);
    m.free(q);
    m.free(k0);
    pre = [qe];
  }
  let kv: (Handle | null)[] = [k, v];
  const qLen = kvc.kvLen === null ? s.seq : 1;
  // Tokens attended to: all of them, or (sliding-window layers) the window the cache keeps.
  const window = kvc.kvLen !== null && s.slidingWindow !== null && (!s.slidingAlternate || kvc.layer % 2 === 0) ? s.slidingWindow : Infinity;
  const kvLen = kvc.kvLen === null ? s.seq : Math.min(kvc.kvLen, window);
  if (s.staticCacheTokens === null && s.kvBytes === B) {
    // DynamicLayer.update: torch.cat([cached, key_states]) then the same for V, each replacing the cached copy
    // (empty in the prefill); the rotated originals are dropped when the caller rebinds them.
    const i = 2 * kvc.layer;
    kv = [m.malloc((kSize / qLen) * kvLen), null];
    m.free(kvc.cache[i] ?? null);
    kv[1] = m.malloc((vSize / qLen) * kvLen);
    m.free(kvc.cache[i + 1] ?? null);
    kvc.cache[i] = kv[0]!;
    kvc.cache[i + 1] = kv[1];
    m.free(k);
    m.free(v);
  } else if (kvc.kvLen !== null) {
    // Static or quantized cache in a decode step: written in place; the new token's K and V are dropped.
    kv = [];
    m.free(k);
    m.free(v);
  } else {
    // The cache stores its own tensors (static: preallocated per layer on first use; quantized: converted).
    const tokens = s.staticCacheTokens === null ? T : s.batch * s.staticCacheTokens;
    const per = s.mla ? [kSize / T / B, vSize / T / B] : [s.kvHeads * s.headDim, s.kvHeads * s.headDim];
    kv = [m.malloc(Math.ceil(tokens * per[0]! * s.kvBytes)), m.malloc(Math.ceil(tokens * per[1]! * s.kvBytes))];
  }
  let out: Handle | null;
  let held: Handle | null = null;
  if (s.attention === 'eager' || s.attention === 'math') ({ out, held } = scoresAttention(m, s, Q, qLen, kvLen));
  else if (masked) {
    // A materialised mask rules out flash: sdpa_attention_forward repeats K and V for GQA (no enable_gqa with a
    // mask) and the mem-efficient kernel takes the bool mask as a (b, 1, s, s) additive bias.
    const K = s.batch * s.heads * kvLen * s.headDim * B;
    const kr = s.kvHeads !== s.heads ? m.malloc(K) : null;
    const vr = s.kvHeads !== s.heads ? m.malloc(K) : null;
    const bias = m.malloc(s.batch * qLen * kvLen * B);
    out = m.malloc(T * s.heads * s.headDim * B);
    m.free(bias);
    m.free(kr);
    m.free(vr);
  } else {
    // Fused kernel: only the output (no logsumexp is kept without autograd; none in the H200 traces).
    out = m.malloc(T * s.heads * (s.mla ? s.mla.vHeadDim : s.headDim) * B);
  }
  if (s.staticCacheTokens !== null || s.kvBytes !== B) {
    m.free(k);
    m.free(v);
  }
  const o = m.malloc(T * h * B);
  m.free(out);
  for (const p of pre) m.free(p);
  return { out: o, kv, held };
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
