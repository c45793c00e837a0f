/**
 * GGUF metadata → ModelSpec: `<arch>.block_count`, `.embedding_length`, `.feed_forward_length`,
 * `.attention.head_count(_kv)`, `.attention.key_length`, `.context_length`, experts, MLA ranks; the vocabulary
 * from `tokenizer.ggml.tokens`; tied embeddings when the file has no `output.weight`.
 */
import { EstimateError, modelSpec, type ModelSpec } from '../../shared/estimator/index.ts';
import type { GgufHeader, GgufValue } from './gguf.ts';

const ARCH_FAMILY: Record<string, string> = {
  llama: 'llama', mistral: 'mistral', qwen2: 'qwen2', qwen3: 'qwen3', qwen2moe: 'qwen2_moe', qwen3moe: 'qwen3_moe',
  gemma: 'gemma', gemma2: 'gemma2', phi3: 'phi3', deepseek2: 'deepseek_v2', chatglm: 'chatglm',
};

function num(v: GgufValue | undefined): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (Array.isArray(v) && v.length > 0) return Math.max(...v.map((x) => num(x) ?? 0));
  return undefined;
}

export function modelFromGguf(h: GgufHeader, id: string): ModelSpec {
  const md = h.metadata;
  const arch = md['general.architecture'];
  if (typeof arch !== 'string') throw new EstimateError(`${id}: GGUF has no general.architecture`);
  const family = ARCH_FAMILY[arch];
  if (!family) throw new EstimateError(`${id}: unsupported GGUF architecture "${arch}"; supported: ${Object.keys(ARCH_FAMILY).join(', ')}`);
  const get = (k: string): number | undefined => num(md[`${arch}.${k}`]);
  const need = (k: string): number => {
    const v = get(k);
    if (v === undefined) throw new EstimateError(`${id}: GGUF metadata is missing ${arch}.${k}`);
    return v;
  };
  const names = new Set(h.tensors.map((t) => t.name));
  const tokens = md['tokenizer.ggml.tokens'];
  const vocab = get('vocab_size') ?? (Array.isArray(tokens) ? tokens.length : undefined);
  if (vocab === undefined) throw new EstimateError(`${id}: GGUF has neither ${arch}.vocab_size nor tokenizer.ggml.tokens`);
  const hidden = need('embedding_length');
  const heads = need('attention.head_count');
  const experts = get('expert_count');
  const spec = modelSpec(id, String(md['general.name'] ?? id), {
    family, layers: need('block_count'), hidden, heads, kvHeads: get('attention.head_count_kv') ?? heads,
    headDim: get('attention.key_length') ?? hidden / heads, intermediate: need('feed_forward_length'), vocab,
    tiedEmbeddings: !names.has('output.weight'), qkvBias: names.has('blk.0.attn_q.bias'),
    qkNorm: names.has('blk.0.attn_q_norm.weight'), normsPerLayer: family === 'gemma2' ? 4 : 2,
    slidingWindow: get('attention.sliding_window') ?? null, slidingPattern: family === 'gemma2' ? 'alternate' : 'all',
    maxPositions: get('context_length') ?? 4096,
  });
  if (experts) {
    spec.moe = {
      experts, topK: need('expert_used_count'), intermediate: get('expert_feed_forward_length') ?? spec.intermediate,
      sharedExperts: get('expert_shared_count') ?? 0, sharedIntermediate: get('expert_feed_forward_length') ?? 0,
      firstDenseLayers: get('leading_dense_block_count') ?? 0,
    };
  }
  if (family === 'deepseek_v2') {
    const rope = need('rope.dimension_count');
    const kLen = need('attention.key_length');
    spec.mla = { kvLoraRank: need('attention.kv_lora_rank'), qLoraRank: get('attention.q_lora_rank') || null, qkRopeHeadDim: rope, qkNopeHeadDim: kLen - rope, vHeadDim: get('attention.value_length') ?? kLen - rope };
    spec.kvHeads = heads;
  }
  return spec;
}
