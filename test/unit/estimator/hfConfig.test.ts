/** config.json → ModelSpec by model_type, including the traps listed in docs/estimator.md §3–4. */
import { describe, expect, it } from 'vitest';
import { EstimateError, modelFromHfConfig, paramCount } from '../../../shared/estimator/index.ts';

const llama3 = {
  model_type: 'llama', num_hidden_layers: 32, hidden_size: 4096, num_attention_heads: 32, num_key_value_heads: 8,
  intermediate_size: 14336, vocab_size: 128256, tie_word_embeddings: false, max_position_embeddings: 8192, torch_dtype: 'bfloat16',
};

describe('modelFromHfConfig()', () => {
  it('reads a Llama-3-8B config to the exact parameter count', () => {
    const m = modelFromHfConfig(llama3, 'llama3');
    expect(paramCount(m)).toBe(8_030_261_248);
    expect(m.defaultDtype).toBe('bf16');
    expect(m.maxPositions).toBe(8192);
  });

  it('gives Qwen2 its QKV bias and ignores sliding_window when use_sliding_window is false', () => {
    const m = modelFromHfConfig({
      model_type: 'qwen2', num_hidden_layers: 28, hidden_size: 3584, num_attention_heads: 28, num_key_value_heads: 4,
      intermediate_size: 18944, vocab_size: 152064, sliding_window: 131072, use_sliding_window: false, tie_word_embeddings: false,
    });
    expect(m.qkvBias).toBe(true);
    expect(m.slidingWindow).toBeNull();
    expect(paramCount(m)).toBe(7_615_616_512);
  });

  it('keeps Gemma-2 head_dim 256 (a·d ≠ h), tied embeddings and alternating 4096-token windows', () => {
    const m = modelFromHfConfig({
      model_type: 'gemma2', num_hidden_layers: 42, hidden_size: 3584, num_attention_heads: 16, num_key_value_heads: 8, head_dim: 256,
      intermediate_size: 14336, vocab_size: 256000, sliding_window: 4096,
    });
    expect(m.headDim).toBe(256);
    expect(m.tiedEmbeddings).toBe(true);
    expect(m.slidingPattern).toBe('alternate');
    expect(paramCount(m)).toBe(9_241_705_984);
  });

  it('counts every Mixtral expert as resident', () => {
    const m = modelFromHfConfig({
      model_type: 'mixtral', num_hidden_layers: 32, hidden_size: 4096, num_attention_heads: 32, num_key_value_heads: 8,
      intermediate_size: 14336, vocab_size: 32000, num_local_experts: 8, num_experts_per_tok: 2,
    });
    expect(paramCount(m)).toBe(46_702_792_704);
  });

  it('reads DeepSeek-V2-Lite MLA and MoE fields', () => {
    const m = modelFromHfConfig({
      model_type: 'deepseek_v2', num_hidden_layers: 27, hidden_size: 2048, num_attention_heads: 16, num_key_value_heads: 16,
      intermediate_size: 10944, moe_intermediate_size: 1408, vocab_size: 102400, kv_lora_rank: 512, q_lora_rank: null,
      qk_rope_head_dim: 64, qk_nope_head_dim: 128, v_head_dim: 128, n_routed_experts: 64, n_shared_experts: 2,
      num_experts_per_tok: 6, first_k_dense_replace: 1,
    });
    expect(m.mla?.kvLoraRank).toBe(512);
    expect(paramCount(m)).toBe(15_706_484_224);
  });

  it('maps ChatGLM field names (num_layers, multi_query_group_num, ffn_hidden_size, padded_vocab_size)', () => {
    const m = modelFromHfConfig({
      model_type: 'chatglm', num_layers: 28, hidden_size: 4096, num_attention_heads: 32, multi_query_group_num: 2, kv_channels: 128,
      ffn_hidden_size: 13696, padded_vocab_size: 65024, add_qkv_bias: true,
    });
    expect(m.kvHeads).toBe(2);
    expect(m.qkvBias).toBe(true);
    expect(m.layers).toBe(28);
  });

  it('rejects an unknown model_type with the supported list', () => {
    expect(() => modelFromHfConfig({ ...llama3, model_type: 'bert' })).toThrow(/unsupported model_type "bert"; supported: llama/);
  });

  it('names a missing field', () => {
    const { hidden_size: _drop, ...rest } = llama3;
    expect(() => modelFromHfConfig(rest)).toThrow(EstimateError);
    expect(() => modelFromHfConfig(rest)).toThrow(/missing "hidden_size"/);
  });

  it('rejects impossible numbers', () => {
    expect(() => modelFromHfConfig({ ...llama3, num_attention_heads: -4 })).toThrow(/num_attention_heads/);
    expect(() => modelFromHfConfig({ ...llama3, hidden_size: 4097 })).toThrow(/not a multiple/);
  });
});
