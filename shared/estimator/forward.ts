/**
 * The prefill of a Hugging Face decoder (transformers 5, `model(input_ids, use_cache=True, logits_to_keep=…)`),
 * and the decode steps after it, replayed tensor by tensor against the caching-allocator model: every
 * intermediate is allocated and freed in the order the Python code creates and drops it (LlamaModel /
 * LlamaDecoderLayer / RMSNorm / MLP / SDPA / eager attention / Phi-3, Qwen3 and Gemma-2 variants / Mixtral MoE /
 * DeepSeek MLA). The peak allocation and the segments reserved fall out of the replay; no per-model constants.
 *
 * Facts the replay reproduces on the H200 fixture: at the peak (last layer's MLP) the live per-token tensors
 * are inputs_embeds, the layer input, the residual and the normed input (4·h) plus three MLP temporaries
 * (3·I); RoPE cos/sin are (1, s, d) each; bf16 eager softmax converts a copy to fp32 before softmax
 * (bf16 input has no half_to_float fast path), so scores peak at 2 + 4 + 4 B per element; fp32 SDPA with
 * GQA falls back to the math kernel, which materialises the scores, a safe-softmax output and a bool mask.
 */
import { CachingAllocator, type Handle } from './allocator.ts';
import { clearLayoutMemo } from './weightsLayout.ts';
import { decoderLayer, isLocalLayer, staticLayerTokens, type ForwardResult, type ForwardShape } from './layers.ts';
import { norm } from './norm.ts';

export type { ForwardResult, ForwardShape } from './layers.ts';

const MEMO_ENTRIES = 512;
const memo = new Map<string, ForwardResult>();

/**
 * simulatePrefill, memoised per exact shape (bounded, oldest dropped first): a what-if slider or a solver
 * revisiting a shape gets the replay back without redoing it.
 */
export function replayPrefill(s: ForwardShape): ForwardResult {
  const key = shapeKey(s);
  const hit = memo.get(key);
  if (hit) return hit;
  const r = simulatePrefill(s);
  if (memo.size >= MEMO_ENTRIES) memo.delete(memo.keys().next().value!);
  memo.set(key, r);
  return r;
}

/** Every field of the shape but weightTails (weightTailsKey names them), as a memo key. */
function shapeKey(s: ForwardShape): string {
  const e = s.moe;
  const c = s.mla;
  return `${s.decodeSteps}|${s.capacityBytes}|${s.arch}|${s.qkNorm}|${s.slidingWindow}|${s.slidingAlternate}|${s.dtype}|${s.batch}|${s.seq}|${s.bytes}|${s.hidden}|${s.heads}|${s.kvHeads}|${s.headDim}|${s.intermediate}|${s.vocab}|${s.fullVocab}|${s.layers}|${s.attention}|${s.logitsAll}|${s.logitsFp32}|${s.kvBytes}|${s.staticCacheTokens}|`
    + (e ? `${e.experts},${e.topK},${e.intermediate},${e.sharedWidth},${e.denseLayers},${e.router},${e.sharedGate}|` : '-|')
    + (c ? `${c.kvLoraRank},${c.qLoraRank},${c.qkHeadDim},${c.ropeDim},${c.vHeadDim},${c.complexRope}|` : '-|') + s.weightTailsKey;
}

/** Drop memoised replays and weight layouts (benchmarks measure the cold path with it). */
export function clearReplayMemo(): void {
  memo.clear();
  clearLayoutMemo();
}

/**
 * Replay one prefill, every layer (the allocator's state does not repeat: each layer's KV copies carve it anew),
 * then `s.decodeSteps` decode steps (the prefill's logits dropped first, as a generation loop does), against `m`
 * (a fresh allocator model; tests pass one that also records the requests).
 */
export function simulatePrefill(s: ForwardShape, m = new CachingAllocator()): ForwardResult {
  m.seedFree(s.weightTails);
  m.capacityBytes = s.capacityBytes;
  const T = s.batch * s.seq;
  m.malloc(T * 8); // input_ids: the caller holds them through the forward
  const cache: (Handle | null)[] = [];
  const pre = forwardPass(m, s, s.seq, null, cache);
  const result: ForwardResult = {
    peakBytes: pre.peakBytes,
    peakPhase: pre.peakPhase,
    reservedBytes: m.reservedBytes,
    residentBytes: m.allocatedBytes,
    kvBytes: kvBytesTotal(s, T),
    decodeReservedBytes: m.reservedBytes,
    decodePeakBytes: 0,
    overCapacity: m.overCapacity,
  };
  if (s.decodeSteps === 0) return result;
  m.free(pre.logits);
  let peak = 0;
  const lengths = decodeLengths(s.seq, s.decodeSteps);
  for (let i = 0; i < lengths.length; i++) {
    m.peakAllocatedBytes = m.allocatedBytes;
    const ids = m.malloc(s.batch * 8);
    if (i < DECODE_FULL_STEPS) {
      const pass = forwardPass(m, s, 1, lengths[i]!, cache);
      peak = Math.max(peak, pass.peakBytes);
      m.free(pass.logits);
    } else {
      cacheGrowthStep(m, s, lengths[i]!, cache);
      peak = Math.max(peak, m.peakAllocatedBytes);
    }
    m.free(ids);
  }
  result.decodeReservedBytes = m.reservedBytes;
  result.decodePeakBytes = peak;
  result.overCapacity = m.overCapacity;
  return result;
}

/**
 * Decode replay: the first DECODE_FULL_STEPS steps run the whole forward (the H200 ground truth's 16 steps);
 * later ones only what outlives a step's transients (which found their cached blocks in those first steps):
 * every layer's torch.cat of K and V and the logits. Up to DECODE_TOKEN_STEPS steps go one token at a time; the
 * rest of a longer generation in DECODE_STRIDES equal strides (the allocator sees the same growing sizes,
 * fewer times).
 */
const DECODE_FULL_STEPS = 16;
const DECODE_TOKEN_STEPS = 1024;
const DECODE_STRIDES = 32;

/** Cache lengths after each replayed decode step, ending at prompt + steps. */
export function decodeLengths(prompt: number, steps: number): number[] {
  const out: number[] = [];
  const exact = Math.min(steps, DECODE_TOKEN_STEPS);
  for (let i = 1; i <= exact; i++) out.push(prompt + i);
  const rest = steps - exact;
  const stride = Math.ceil(rest / DECODE_STRIDES);
  for (let done = 0; done < rest; done += stride) out.push(prompt + exact + Math.min(rest, done + stride));
  return out;
}

/** A decode step's lasting work: each layer's DynamicCache torch.cat of K then V (old copies freed), the logits. */
function cacheGrowthStep(m: CachingAllocator, s: ForwardShape, kvLen: number, cache: (Handle | null)[]): void {
  if (s.staticCacheTokens === null && s.kvBytes === s.bytes) {
    // MLA caches the latent and the rotated shared key.
    const kRow = s.mla ? s.mla.kvLoraRank : s.kvHeads * s.headDim;
    const vRow = s.mla ? s.mla.ropeDim : s.kvHeads * s.headDim;
    for (let layer = 0; layer < s.layers; layer++) {
      const len = isLocalLayer(s, layer) ? Math.min(kvLen, s.slidingWindow!) : kvLen;
      const i = 2 * layer;
      const k = m.malloc(s.batch * len * kRow * s.bytes);
      m.free(cache[i] ?? null);
      cache[i] = k;
      const v = m.malloc(s.batch * len * vRow * s.bytes);
      m.free(cache[i + 1] ?? null);
      cache[i + 1] = v;
    }
  }
  m.free(lmHead(m, s, s.batch));
}

/**
 * lm_head's logits for `rows` positions, as the model returns them. Under TP (colwise_gather_output) each rank's
 * vocabulary shard is gathered: DTensor all-gathers along dim 0, then concatenates on the last dim (two whole-
 * vocabulary buffers, the first freed after the cat). Gemma-2's final_logit_softcapping follows (/ cap, tanh, * cap).
 */
function lmHead(m: CachingAllocator, s: ForwardShape, rows: number): Handle | null {
  const B = s.bytes;
  let logits = m.malloc(rows * s.vocab * B);
  if (s.fullVocab !== s.vocab) {
    const gathered = m.malloc(rows * s.fullVocab * B);
    const full = m.malloc(rows * s.fullVocab * B);
    m.free(gathered);
    m.free(logits);
    logits = full;
  }
  for (let i = 0; i < (s.arch === 'gemma2' ? 3 : 0); i++) {
    const next = m.malloc(rows * s.fullVocab * B);
    m.free(logits);
    logits = next;
  }
  return logits;
}

/**
 * One forward of `qLen` new tokens per sequence: the prefill (`kvLen` null: the cache starts empty) or a decode
 * step (`qLen` 1, the cache holding `kvLen` tokens after it). Returns the highest allocation reached (the
 * caller sets peakAllocatedBytes to the current allocation first) and the logits block, which the caller drops.
 */
function forwardPass(m: CachingAllocator, s: ForwardShape, qLen: number, kvLen: number | null, cache: (Handle | null)[]): { peakBytes: number; peakPhase: string; logits: Handle | null } {
  const T = s.batch * qLen;
  const B = s.bytes;
  let embeds = m.malloc(T * s.hidden * B);
  if (s.arch === 'gemma2') {
    // Gemma2TextScaledWordEmbedding: embedding(ids) * embed_scale.
    const scaled = m.malloc(T * s.hidden * B);
    m.free(embeds);
    embeds = scaled;
  }
  const cachePos = m.malloc(qLen * 8);
  // masking_utils: the full causal mask (eager only: SDPA passes is_causal instead), then the sliding-window one
  // (eager always; SDPA once the window is full). The sliding rule is and_masks(causal, window): each rule's
  // (1, 1, q, kv) bool is and-ed into a running result. Eager expands the bool to a (b, 1, q, kv) additive mask.
  const masks: (Handle | null)[] = [];
  const eager = s.attention === 'eager';
  const sliding = s.slidingWindow !== null;
  // A StaticCache's masks span its whole buffer (max_cache_len, or a sliding layer's window when shorter; a prefill
  // longer than the window attends to all of its own tokens).
  const kvAll = s.staticCacheTokens ?? kvLen ?? qLen;
  const kvLocal = !sliding ? kvAll
    : s.staticCacheTokens !== null ? Math.max(kvLen === null ? qLen : 1, Math.min(s.staticCacheTokens, s.slidingWindow!))
      : kvLen === null ? qLen : Math.min(kvLen, s.slidingWindow!);
  const slidingMasked = sliding && (eager || kvLocal >= s.slidingWindow!);
  if (eager && (!sliding || s.slidingAlternate)) {
    const bool = m.malloc(qLen * kvAll);
    masks.push(m.malloc(s.batch * qLen * kvAll * B));
    m.free(bool);
  }
  if (!eager && s.staticCacheTokens !== null && kvLen !== null) masks.push(m.malloc(qLen * kvAll)); // decode: causal over the buffer
  if (slidingMasked) {
    const n = qLen * kvLocal;
    const causal = m.malloc(n);
    const r1 = m.malloc(n);
    m.free(causal);
    const window = m.malloc(n);
    const r2 = m.malloc(n);
    m.free(window);
    m.free(r1);
    if (eager) {
      masks.push(m.malloc(s.batch * n * B));
      m.free(r2);
    } else masks.push(r2);
  }
  // RotaryEmbedding.forward: freqs and emb are locals, freed on return after cos/sin are cast to the dtype.
  const d = s.mla ? s.mla.ropeDim : s.headDim;
  const posF = m.malloc(qLen * 4);
  const freqs = m.malloc((qLen * d * 4) / 2);
  const emb = m.malloc(qLen * d * 4);
  const cs: (Handle | null)[] = [];
  for (let i = 0; i < 2; i++) {
    const raw = m.malloc(qLen * d * 4);
    const scaled = m.malloc(qLen * d * 4);
    m.free(raw);
    cs.push(scaled);
  }
  const rope16 = cs.map((c) => (B < 4 ? m.malloc(qLen * d * B) : c));
  m.free(freqs);
  m.free(emb);
  if (B < 4) cs.forEach((c) => m.free(c));
  m.free(posF);

  let hidden = embeds;
  for (let layer = 0; layer < s.layers; layer++) {
    const local = isLocalLayer(s, layer);
    const moe = s.moe !== null && layer >= s.moe.denseLayers;
    const out = decoderLayer(m, s, T, moe, local && slidingMasked && !eager, { cache, layer, kvLen });
    if (hidden !== embeds) m.free(hidden);
    hidden = out;
  }
  const peakLayers = m.peakAllocatedBytes;
  const layersPhase = m.peakPhase;
  m.peakAllocatedBytes = m.allocatedBytes;
  const nf = norm(m, s, T * s.hidden, T);
  if (hidden !== embeds) m.free(hidden);
  // The model's locals go on return; the H200 traces free Llama's inputs_embeds before its mask, Gemma-2's
  // mask mapping before its (scaled) embeddings.
  if (s.arch === 'gemma2') masks.forEach((x) => m.free(x));
  m.free(embeds);
  masks.forEach((x) => m.free(x));
  m.free(cachePos);
  rope16.forEach((c) => m.free(c));
  m.phase = 'lm_head logits';
  const rows = s.logitsAll && kvLen === null ? T : s.batch;
  let logits = lmHead(m, s, rows);
  if (s.logitsFp32 && B < 4) {
    const up = m.malloc(rows * s.fullVocab * 4);
    m.free(logits);
    logits = up;
  }
  m.free(nf);
  return {
    peakBytes: Math.max(peakLayers, m.peakAllocatedBytes),
    peakPhase: peakLayers >= m.peakAllocatedBytes ? `${layersPhase}, last layer` : m.peakPhase,
    logits,
  };
}

/** KV the prefill leaves in the cache over all layers: its tokens, or each layer's StaticCache buffer. */
function kvBytesTotal(s: ForwardShape, T: number): number {
  const per = s.mla ? s.mla.kvLoraRank + s.mla.ropeDim : 2 * s.kvHeads * s.headDim;
  if (s.staticCacheTokens === null) return Math.ceil(T * per * s.kvBytes) * s.layers;
  let total = 0;
  for (let layer = 0; layer < s.layers; layer++) total += Math.ceil(s.batch * staticLayerTokens(s, layer)! * per * s.kvBytes);
  return total;
}
