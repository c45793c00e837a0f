/**
 * HF config.json → ModelSpec, by model_type. Validates with zod; a missing or impossible field is an
 * EstimateError naming the field. Handles biases, tied embeddings, head_dim ≠ hidden/heads, sliding windows
 * (Qwen2's use_sliding_window=false trap), MoE (all experts resident) and MLA.
 */
import { z } from 'zod';
import { modelSpec } from './models.ts';
import { EstimateError } from './resolve.ts';
import type { FloatDtype, ModelSpec } from './types.ts';

export const SUPPORTED_MODEL_TYPES = [
  'llama', 'mistral', 'mixtral', 'qwen2', 'qwen2_moe', 'qwen3', 'qwen3_moe', 'gemma', 'gemma2', 'phi3', 'deepseek_v2', 'deepseek_v3', 'chatglm',
] as const;

const int = z.number().int().positive();
const Config = z.looseObject({
  model_type: z.string(),
  num_hidden_layers: int.optional(),
  num_layers: int.optional(),
  hidden_size: int.optional(),
  num_attention_heads: int.optional(),
  num_key_value_heads: int.nullish(),
  multi_query_group_num: int.optional(),
  head_dim: int.nullish(),
  kv_channels: int.optional(),
  intermediate_size: int.optional(),
  ffn_hidden_size: int.optional(),
  vocab_size: int.optional(),
  padded_vocab_size: int.optional(),
  tie_word_embeddings: z.boolean().optional(),
  attention_bias: z.boolean().optional(),
  add_qkv_bias: z.boolean().optional(),
  sliding_window: z.number().int().nullish(),
  use_sliding_window: z.boolean().optional(),
  max_position_embeddings: int.optional(),
  seq_length: int.optional(),
  torch_dtype: z.string().nullish(),
  dtype: z.string().nullish(),
  num_local_experts: int.optional(),
  num_experts: int.optional(),
  n_routed_experts: int.optional(),
  num_experts_per_tok: int.optional(),
  moe_intermediate_size: int.optional(),
  shared_expert_intermediate_size: int.optional(),
  n_shared_experts: int.nullish(),
  first_k_dense_replace: z.number().int().nonnegative().optional(),
  kv_lora_rank: int.optional(),
  q_lora_rank: int.nullish(),
  qk_rope_head_dim: int.optional(),
  qk_nope_head_dim: int.optional(),
  v_head_dim: int.optional(),
});

function need(name: string, ...values: (number | null | undefined)[]): number {
  for (const v of values) if (typeof v === 'number') return v;
  throw new EstimateError(`config.json is missing "${name}"`);
}

function dtypeOf(s: string | null | undefined): FloatDtype {
  if (s === 'float32') return 'fp32';
  if (s === 'float16') return 'fp16';
  return 'bf16';
}

/** Parse a config.json object (already JSON-decoded). `id` names the model in messages and results. */
export function modelFromHfConfig(raw: unknown, id = 'config.json'): ModelSpec {
  const parsed = Config.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new EstimateError(`config.json: ${issue ? `${issue.path.join('.') || 'root'}: ${issue.message}` : 'not a model config'}`);
  }
  const c = parsed.data;
  const type = c.model_type;
  if (!(SUPPORTED_MODEL_TYPES as readonly string[]).includes(type)) {
    throw new EstimateError(`unsupported model_type "${type}"; supported: ${SUPPORTED_MODEL_TYPES.join(', ')}`);
  }
  const hidden = need('hidden_size', c.hidden_size);
  const heads = need('num_attention_heads', c.num_attention_heads);
  const layers = need('num_hidden_layers', c.num_hidden_layers, c.num_layers);
  const vocab = need('vocab_size', c.padded_vocab_size, c.vocab_size);
  const kvHeads = type === 'chatglm' ? (c.multi_query_group_num ?? heads) : (c.num_key_value_heads ?? heads);
  const headDim = c.head_dim ?? c.kv_channels ?? hidden / heads;
  if (!Number.isInteger(headDim)) throw new EstimateError(`config.json: hidden_size ${hidden} is not a multiple of num_attention_heads ${heads}; give head_dim`);
  const moeType = type === 'mixtral' || type === 'qwen2_moe' || type === 'qwen3_moe' || type.startsWith('deepseek');
  const intermediate = need('intermediate_size', c.intermediate_size, c.ffn_hidden_size);
  // Gemma2Config's default window (4096) applies when config.json leaves it out.
  const window = c.sliding_window === undefined && type === 'gemma2' ? 4096 : c.sliding_window;
  const slidingOn = window !== null && window !== undefined && window > 0
    && (type === 'qwen2' || type === 'qwen2_moe' || type === 'qwen3' || type === 'qwen3_moe' ? c.use_sliding_window === true : true);
  const spec: ModelSpec = modelSpec(id, id, {
    family: type, layers, hidden, heads, kvHeads, headDim, intermediate, vocab,
    tiedEmbeddings: c.tie_word_embeddings ?? (type === 'gemma' || type === 'gemma2'),
    qkvBias: type === 'qwen2' || type === 'qwen2_moe' || c.attention_bias === true || c.add_qkv_bias === true,
    outBias: false,
    qkNorm: type === 'qwen3' || type === 'qwen3_moe',
    normsPerLayer: type === 'gemma2' ? 4 : 2,
    slidingWindow: slidingOn ? window! : null,
    slidingPattern: type === 'gemma2' ? 'alternate' : 'all',
    maxPositions: c.max_position_embeddings ?? c.seq_length ?? 4096,
    defaultDtype: dtypeOf(c.torch_dtype ?? c.dtype),
  });
  if (moeType) {
    const experts = need('num_local_experts / num_experts / n_routed_experts', c.num_local_experts, c.num_experts, c.n_routed_experts);
    const shared = type === 'qwen2_moe' ? (c.shared_expert_intermediate_size ? 1 : 0) : (c.n_shared_experts ?? 0);
    spec.moe = {
      experts,
      topK: need('num_experts_per_tok', c.num_experts_per_tok),
      intermediate: type === 'mixtral' ? intermediate : need('moe_intermediate_size', c.moe_intermediate_size),
      sharedExperts: shared,
      sharedIntermediate: type === 'qwen2_moe' ? (c.shared_expert_intermediate_size ?? 0) : (c.moe_intermediate_size ?? 0),
      firstDenseLayers: c.first_k_dense_replace ?? 0,
    };
  }
  if (type.startsWith('deepseek')) {
    const rope = need('qk_rope_head_dim', c.qk_rope_head_dim);
    const nope = need('qk_nope_head_dim', c.qk_nope_head_dim);
    spec.mla = { kvLoraRank: need('kv_lora_rank', c.kv_lora_rank), qLoraRank: c.q_lora_rank ?? null, qkRopeHeadDim: rope, qkNopeHeadDim: nope, vHeadDim: need('v_head_dim', c.v_head_dim) };
    spec.headDim = rope + nope;
    spec.kvHeads = heads;
  }
  return spec;
}
