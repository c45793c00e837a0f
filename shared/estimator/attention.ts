/**
 * Attention of the replayed decoder layer: q/k/v projections (fused for Phi-3, per-head norms for Qwen3, MLA for
 * DeepSeek), RoPE, the DynamicCache copies (or, in a decode step, their growth), and the kernel: flash or
 * mem-efficient SDPA (masked on sliding-window layers), the SDPA math kernel or eager attention.
 */
import type { CachingAllocator, Handle } from './allocator.ts';
import { isLocalLayer, staticLayerTokens, type ForwardShape, type KvContext } from './layers.ts';
import { rmsNorm } from './norm.ts';

type A = CachingAllocator;

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

/** Scores-materialising attention (eager or the SDPA math kernel); returns the (b, s, a·d) output. */
function scoresAttention(m: A, s: ForwardShape, Q: number, qLen: number, kvLen: number, O = Q): { out: Handle | null; held: Handle | null } {
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
    const o = m.malloc(O);
    const out = m.malloc(O); // transpose(1, 2).contiguous()
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
  const o = m.malloc(O);
  m.free(sm);
  m.free(fmask);
  m.free(q);
  m.free(kr);
  m.free(vr);
  const out = m.malloc(O);
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

/**
 * DeepSeek-V2/V3 attention in transformers 5 (multi-head latent attention): the cache holds the compressed latent
 * (kv_a_layernorm'ed, kv_lora_rank wide) and the rotated shared key (rope dim), and every forward expands all cached
 * tokens to each head's K and V (kv_b_proj, then key_states = new_empty + copies). V2 rotates through complex fp32
 * (view_as_complex), V3 with rotate_half. Checked against H200 allocator traces of DeepSeek-V2-Lite layers.
 */
function latentAttention(m: A, s: ForwardShape, T: number, kvc: KvContext): { out: Handle | null; kv: (Handle | null)[]; held: Handle | null } {
  const c = s.mla!;
  const B = s.bytes;
  const a = s.heads;
  const r = c.ropeDim;
  const L = c.kvLoraRank;
  const Q = T * a * c.qkHeadDim * B;
  let q: Handle | null;
  if (c.qLoraRank) {
    // q_b_proj(q_a_layernorm(q_a_proj(x)))
    const qa = m.malloc(T * c.qLoraRank * B);
    const qn = rmsNorm(m, T * c.qLoraRank, T, B);
    m.free(qa);
    q = m.malloc(Q);
    m.free(qn);
  } else q = m.malloc(Q);
  const compressed = m.malloc(T * (L + r) * B);
  const latent = rmsNorm(m, T * L, T, B); // kv_a_layernorm of the split (non-contiguous) view
  let qRot: Handle | null;
  let kRot: Handle | null;
  if (c.complexRope) {
    // apply_rotary_emb: q_pe and k_pe to fp32, times the complex freqs, back to the dtype (type_as).
    const qf = B < 4 ? m.malloc(T * a * r * 4) : null;
    const kf = B < 4 ? m.malloc(T * r * 4) : null;
    const qc = m.malloc(T * a * r * 4);
    qRot = B < 4 ? m.malloc(T * a * r * B) : qc;
    if (B < 4) m.free(qc);
    const kc = m.malloc(T * r * 4);
    kRot = B < 4 ? m.malloc(T * r * B) : kc;
    if (B < 4) m.free(kc);
    m.free(qf);
    m.free(kf);
  } else {
    qRot = rope(m, T * a * r * B);
    kRot = rope(m, T * r * B);
  }
  // Cache update while the latent is compressed: DynamicLayer's torch.cat (or a StaticCache buffer written in place).
  const staticLen = staticLayerTokens(s, kvc.layer);
  const qLen = kvc.kvLen === null ? s.seq : 1;
  const kvLen = staticLen ?? kvc.kvLen ?? s.seq;
  const i = 2 * kvc.layer;
  let kv: (Handle | null)[] = [];
  if (staticLen === null) {
    kv = [m.malloc(s.batch * kvLen * L * s.kvBytes), null];
    m.free(kvc.cache[i] ?? null);
    kv[1] = m.malloc(s.batch * kvLen * r * s.kvBytes);
    m.free(kvc.cache[i + 1] ?? null);
    kvc.cache[i] = kv[0]!;
    kvc.cache[i + 1] = kv[1];
  } else if (kvc.kvLen === null) kv = [m.malloc(s.batch * kvLen * L * s.kvBytes), m.malloc(s.batch * kvLen * r * s.kvBytes)];
  m.free(latent);
  m.free(kRot);
  const query = m.malloc(Q); // cat(q_nope, q_pe)
  const expanded = m.malloc(s.batch * kvLen * a * (c.qkHeadDim - r + c.vHeadDim) * B); // kv_b_proj over every cached token
  const keys = m.malloc(s.batch * kvLen * a * c.qkHeadDim * B);
  const O = T * a * c.vHeadDim * B;
  let out: Handle | null;
  let held: Handle | null = null;
  if (s.attention === 'eager' || s.attention === 'math') ({ out, held } = scoresAttention(m, s, Q, qLen, kvLen, O));
  else {
    const o = m.malloc(O); // mem-efficient SDPA (q/k head dim ≠ v head dim rules out flash)
    out = m.malloc(O); // reshape(...).contiguous()
    m.free(o);
  }
  const proj = m.malloc(T * s.hidden * B);
  m.free(out);
  for (const x of [q, qRot, compressed, query, keys, expanded]) m.free(x);
  return { out: proj, kv, held };
}

export function attention(m: A, s: ForwardShape, T: number, masked: boolean, kvc: KvContext): { out: Handle | null; kv: (Handle | null)[]; held: Handle | null } {
  m.phase = 'attention projections and RoPE';
  if (s.mla) return latentAttention(m, s, T, kvc);
  const B = s.bytes;
  const h = s.hidden;
  let Q: number;
  let kSize: number;
  let vSize: number;
  let pre: (Handle | null)[] = [];
  let k: Handle | null;
  let v: Handle | null;
  if (s.arch === 'phi3') {
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
  // Tokens attended to: a StaticCache layer's whole buffer (its unwritten tail masked; a sliding layer's prefill longer
  // than its window returns all of its own tokens), else all of them, or (sliding-window layers) the window kept.
  const staticLen = staticLayerTokens(s, kvc.layer);
  const window = kvc.kvLen !== null && isLocalLayer(s, kvc.layer) ? s.slidingWindow! : Infinity;
  const kvLen = staticLen !== null ? Math.max(staticLen, qLen) : kvc.kvLen === null ? s.seq : Math.min(kvc.kvLen, window);
  // A static cache's decode step gets a materialised mask (is_causal cannot hide the unwritten tail when q = 1).
  const maskedHere = masked || (staticLen !== null && kvc.kvLen !== null);
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
    const tokens = staticLen === null ? T : s.batch * staticLen;
    const row = s.kvHeads * s.headDim;
    kv = [m.malloc(Math.ceil(tokens * row * s.kvBytes)), m.malloc(Math.ceil(tokens * row * s.kvBytes))];
    if (staticLen !== null && qLen <= staticLen) {
      // StaticLayer.update copies the rotated K and V in and returns its buffers: the originals go at once (H200 traces).
      // A sliding layer's prefill longer than its window returns the originals, which then live through the kernel.
      m.free(k);
      m.free(v);
    }
  }
  let out: Handle | null;
  let held: Handle | null = null;
  if (s.attention === 'eager' || s.attention === 'math') ({ out, held } = scoresAttention(m, s, Q, qLen, kvLen));
  else if (maskedHere) {
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
    out = m.malloc(T * s.heads * s.headDim * B);
  }
  if (staticLen === null && s.kvBytes !== B) {
    m.free(k);
    m.free(v);
  }
  const o = m.malloc(T * h * B);
  m.free(out);
  for (const p of pre) m.free(p);
  if (staticLen !== null && qLen > staticLen) {
    // Locals returned by the sliding layer's update: dropped when the attention module returns.
    m.free(k);
    m.free(v);
  }
  return { out: o, kv, held };
}
