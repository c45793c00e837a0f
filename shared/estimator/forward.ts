/**
 * The prefill of a Hugging Face decoder (transformers 5, `model(input_ids, use_cache=True, logits_to_keep=…)`)
 * replayed tensor by tensor against the caching-allocator model: every intermediate is allocated and freed
 * in the order the Python code creates and drops it (LlamaModel / LlamaDecoderLayer / LlamaRMSNorm /
 * LlamaMLP / SDPA / eager attention / Mixtral MoE / DeepSeek MLA). The peak allocation and the segments
 * reserved fall out of the replay; no per-model constants.
 *
 * Facts the replay reproduces on the H200 fixture: at the peak (last layer's MLP) the live per-token tensors
 * are inputs_embeds, the layer input, the residual and the normed input (4·h) plus three MLP temporaries
 * (3·I); RoPE cos/sin are (1, s, d) each; bf16 eager softmax converts a copy to fp32 before softmax
 * (bf16 input has no half_to_float fast path), so scores peak at 2 + 4 + 4 B per element; fp32 SDPA with
 * GQA falls back to the math kernel, which materialises the scores, a safe-softmax output and a bool mask.
 */
import { CachingAllocator, type Handle } from './allocator.ts';
import { clearLayoutMemo } from './weightsLayout.ts';
import { decoderLayer, norm, type ForwardResult, type ForwardShape } from './layers.ts';

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
  return `${s.arch}|${s.qkNorm}|${s.slidingWindow}|${s.slidingAlternate}|${s.dtype}|${s.batch}|${s.seq}|${s.bytes}|${s.hidden}|${s.heads}|${s.kvHeads}|${s.headDim}|${s.intermediate}|${s.vocab}|${s.layers}|${s.attention}|${s.logitsAll}|${s.logitsFp32}|${s.kvBytes}|${s.staticCacheTokens}|`
    + (e ? `${e.experts},${e.topK},${e.intermediate},${e.sharedWidth},${e.denseLayers}|` : '-|')
    + (c ? `${c.kvLoraRank},${c.qLoraRank},${c.qkHeadDim},${c.ropeDim},${c.vHeadDim}|` : '-|') + s.weightTailsKey;
}

/** Drop memoised replays and weight layouts (benchmarks measure the cold path with it). */
export function clearReplayMemo(): void {
  memo.clear();
  clearLayoutMemo();
}

/**
 * Replay one prefill, every layer (the allocator's state does not repeat: each layer's KV copies carve it anew),
 * against `m` (a fresh allocator model; tests pass one that also records the requests).
 */
export function simulatePrefill(s: ForwardShape, m = new CachingAllocator()): ForwardResult {
  m.seedFree(s.weightTails);
  const T = s.batch * s.seq;
  const B = s.bytes;
  m.malloc(T * 8); // input_ids: the caller holds them through the forward
  let embeds = m.malloc(T * s.hidden * B);
  if (s.arch === 'gemma2') {
    // Gemma2TextScaledWordEmbedding: embedding(ids) * embed_scale.
    const scaled = m.malloc(T * s.hidden * B);
    m.free(embeds);
    embeds = scaled;
  }
  const cachePos = m.malloc(s.seq * 8);
  // masking_utils: the full causal mask (eager only: SDPA passes is_causal instead), then the sliding-window one
  // (eager always; SDPA once s ≥ window). The sliding rule is and_masks(causal, window): each rule's (1, 1, s, s)
  // bool is and-ed into a running result. Eager expands the bool to a (b, 1, s, s) additive mask (torch.where).
  const masks: (Handle | null)[] = [];
  const eager = s.attention === 'eager';
  const sliding = s.slidingWindow !== null;
  const slidingMasked = sliding && (eager || s.seq >= s.slidingWindow!);
  if (eager && (!sliding || s.slidingAlternate)) {
    const bool = m.malloc(s.seq * s.seq);
    masks.push(m.malloc(s.batch * s.seq * s.seq * B));
    m.free(bool);
  }
  if (slidingMasked) {
    const causal = m.malloc(s.seq * s.seq);
    const r1 = m.malloc(s.seq * s.seq);
    m.free(causal);
    const window = m.malloc(s.seq * s.seq);
    const r2 = m.malloc(s.seq * s.seq);
    m.free(window);
    m.free(r1);
    if (eager) {
      masks.push(m.malloc(s.batch * s.seq * s.seq * B));
      m.free(r2);
    } else masks.push(r2);
  }
  // RotaryEmbedding.forward: freqs and emb are locals, freed on return after cos/sin are cast to the dtype.
  const d = s.mla ? s.mla.ropeDim : s.headDim;
  const posF = m.malloc(s.seq * 4);
  const freqs = m.malloc((s.seq * d * 4) / 2);
  const emb = m.malloc(s.seq * d * 4);
  const cs: (Handle | null)[] = [];
  for (let i = 0; i < 2; i++) {
    const raw = m.malloc(s.seq * d * 4);
    const scaled = m.malloc(s.seq * d * 4);
    m.free(raw);
    cs.push(scaled);
  }
  const rope16 = cs.map((c) => (B < 4 ? m.malloc(s.seq * d * B) : c));
  m.free(freqs);
  m.free(emb);
  if (B < 4) cs.forEach((c) => m.free(c));
  m.free(posF);

  const kvLayer = kvBytesPerLayer(s, T);
  let hidden = embeds;
  for (let layer = 0; layer < s.layers; layer++) {
    const local = sliding && (!s.slidingAlternate || layer % 2 === 0);
    const out = decoderLayer(m, s, T, s.moe !== null && layer >= s.moe.denseLayers, local && slidingMasked && !eager);
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
  const rows = s.logitsAll ? T : s.batch;
  let logits = m.malloc(rows * s.vocab * B);
  if (s.arch === 'gemma2') {
    // final_logit_softcapping: / cap, tanh, * cap.
    for (let i = 0; i < 3; i++) {
      const next = m.malloc(rows * s.vocab * B);
      m.free(logits);
      logits = next;
    }
  }
  if (s.logitsFp32 && B < 4) {
    m.malloc(rows * s.vocab * 4);
    m.free(logits);
  }
  m.free(nf);
  return {
    peakBytes: Math.max(peakLayers, m.peakAllocatedBytes),
    peakPhase: peakLayers >= m.peakAllocatedBytes ? `${layersPhase}, last layer` : m.peakPhase,
    reservedBytes: m.reservedBytes,
    residentBytes: m.allocatedBytes,
    kvBytes: kvLayer * s.layers,
  };
}

function kvBytesPerLayer(s: ForwardShape, T: number): number {
  if (s.staticCacheTokens !== null) {
    const per = s.mla ? s.heads * (s.mla.qkHeadDim + s.mla.vHeadDim) : 2 * s.kvHeads * s.headDim;
    return Math.ceil(s.batch * s.staticCacheTokens * per * s.kvBytes);
  }
  const per = s.mla ? s.heads * (s.mla.qkHeadDim + s.mla.vHeadDim) : 2 * s.kvHeads * s.headDim;
  return Math.ceil(T * per * s.kvBytes);
}
