/**
 * KV cache bytes: 2 · Σ_layers kvHeadsPerRank · headDim · bytes · tokens(layer), per GPU.
 * MLA stores the latent (kv_lora_rank + rope dim, replicated on every TP rank) in vLLM and in transformers 5 (its
 * DeepSeek-V2/V3 cache the kv_a_layernorm'ed latent and the rotated shared key: measured on an H200), full per-head
 * K (nope + rope) and V in llama.cpp. Sliding-window layers hold
 * at most `window` tokens. Paged engines round every sequence up to whole blocks.
 */
import { KV_BYTES } from './dtypes.ts';
import type { Engine, KvDtype, ModelSpec } from './types.ts';
import { kvHeadsPerRank } from './weights.ts';

/** Elements one token adds to one layer's cache on one TP rank (K and V together). */
export function kvElementsPerTokenLayer(m: ModelSpec, tp: number, engine: Engine['kind']): number {
  if (m.mla) {
    const c = m.mla;
    if (engine === 'vllm' || engine.startsWith('hf')) return c.kvLoraRank + c.qkRopeHeadDim;
    return (m.heads / tp) * (c.qkNopeHeadDim + c.qkRopeHeadDim + c.vHeadDim);
  }
  return 2 * kvHeadsPerRank(m.kvHeads, tp) * m.headDim;
}

/** Layers of this pipeline stage that are local (sliding window) and global. */
export function layerKinds(m: ModelSpec, pp: number): { local: number; global: number } {
  const layers = Math.ceil(m.layers / pp);
  if (m.slidingWindow === null) return { local: 0, global: layers };
  const local = m.slidingPattern === 'all' ? layers : Math.ceil(layers / 2);
  return { local, global: layers - local };
}

export interface KvPlan {
  /** Bytes per token per sequence with every layer global (the "KV per token" figure). */
  bytesPerToken: number;
  /** Bytes for `batch` sequences of `tokens` each. */
  bytes: number;
}

/** KV bytes for `batch` sequences of `tokens` tokens on one GPU; `blockSize` rounds each sequence up (paged). */
export function kvCacheBytes(
  m: ModelSpec, kv: KvDtype, batch: number, tokens: number, tp: number, pp: number, engine: Engine['kind'], blockSize = 1,
): KvPlan {
  const per = kvElementsPerTokenLayer(m, tp, engine) * KV_BYTES[kv];
  const { local, global } = layerKinds(m, pp);
  const held = Math.ceil(tokens / blockSize) * blockSize;
  const heldLocal = m.slidingWindow === null ? held : Math.min(held, Math.ceil(m.slidingWindow / blockSize) * blockSize);
  const bytes = Math.ceil(batch * per * (global * held + local * heldLocal));
  return { bytesPerToken: Math.ceil(per * (local + global)), bytes };
}
