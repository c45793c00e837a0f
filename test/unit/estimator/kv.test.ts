/** KV cache bytes against §7.2 of docs/estimator.md and the measured HF DynamicCache sizes. */
import { describe, expect, it } from 'vitest';
import { estimate, findModel, kvCacheBytes } from '../../../shared/estimator/index.ts';

const GiB = 1024 ** 3;
const model = (id: string) => findModel(id)!;

describe('KV cache', () => {
  it('Llama-3-8B at batch 8 × 2048 tokens is exactly 2 GiB', () => {
    const e = estimate({ model: model('llama-3-8b'), dtype: 'bf16', batch: 8, promptTokens: 2048 });
    expect(e.kvCacheBytes).toBe(2 * GiB);
    expect(e.kvBytesPerToken).toBe(131_072);
  });

  it.each([
    ['llama-2-7b', 524_288], ['llama-2-13b', 819_200], ['llama-2-70b', 327_680], ['llama-3-8b', 131_072],
    ['llama-3-70b', 327_680], ['qwen2-7b', 57_344], ['qwen2.5-72b', 327_680], ['mixtral-8x7b', 131_072],
    ['gemma-2-9b', 344_064], ['gemma-2-27b', 376_832], ['tinyllama-1.1b', 22_528], ['qwen2.5-0.5b', 12_288],
  ])('%s holds %d bytes per token in 16 bits', (id, perToken) => {
    expect(kvCacheBytes(model(id), 'bf16', 1, 1, 1, 1, 'hf-dynamic').bytesPerToken).toBe(perToken);
  });

  it('caps Gemma-2 local layers at the 4096-token window (9B at 8k: 1.97 GiB; 27B: 2.16 GiB)', () => {
    expect(kvCacheBytes(model('gemma-2-9b'), 'bf16', 1, 8192, 1, 1, 'hf-dynamic').bytes / GiB).toBeCloseTo(1.97, 2);
    expect(kvCacheBytes(model('gemma-2-27b'), 'bf16', 1, 8192, 1, 1, 'hf-dynamic').bytes / GiB).toBeCloseTo(2.16, 2);
    expect(kvCacheBytes(model('gemma-2-9b'), 'bf16', 1, 4096, 1, 1, 'hf-dynamic').bytes).toBe(344_064 * 4096);
  });

  it('stores the MLA latent in vLLM and in transformers 5 (31,104 B/token for DeepSeek-V2-Lite), full K/V in llama.cpp', () => {
    const m = model('deepseek-v2-lite');
    expect(kvCacheBytes(m, 'bf16', 1, 1, 1, 1, 'vllm').bytesPerToken).toBe(31_104);
    // 27 layers × (kv_lora_rank 512 + rope 64) × 2 B: the H200 measured it (h200_moe.jsonl), not 16 heads × (192 + 128).
    expect(kvCacheBytes(m, 'bf16', 1, 1, 1, 1, 'hf-dynamic').bytesPerToken).toBe(31_104);
    expect(kvCacheBytes(m, 'bf16', 1, 1, 1, 1, 'llamacpp').bytesPerToken).toBe(276_480);
    // the latent is replicated on every TP rank
    expect(kvCacheBytes(m, 'bf16', 1, 1, 4, 1, 'vllm').bytesPerToken).toBe(31_104);
  });

  it('replicates KV heads when TP exceeds them and splits them otherwise', () => {
    const m = model('llama-3-70b'); // 8 KV heads
    const t1 = kvCacheBytes(m, 'bf16', 1, 1000, 1, 1, 'vllm').bytes;
    expect(kvCacheBytes(m, 'bf16', 1, 1000, 8, 1, 'vllm').bytes).toBe(t1 / 8);
    expect(kvCacheBytes(m, 'bf16', 1, 1000, 16, 1, 'vllm').bytes).toBe(t1 / 8);
  });

  it('scales with the KV dtype (fp8 1 B, q8_0 34/32 B, q4_0 18/32 B per element)', () => {
    const m = model('llama-3-8b');
    const b16 = kvCacheBytes(m, 'bf16', 4, 1024, 1, 1, 'llamacpp').bytes;
    expect(kvCacheBytes(m, 'fp8', 4, 1024, 1, 1, 'llamacpp').bytes).toBe(b16 / 2);
    expect(kvCacheBytes(m, 'int8', 4, 1024, 1, 1, 'llamacpp').bytes).toBe((b16 / 2) * (34 / 32));
    expect(kvCacheBytes(m, 'int4', 4, 1024, 1, 1, 'llamacpp').bytes).toBe((b16 / 2) * (18 / 32));
  });

  it('rounds every sequence up to whole vLLM blocks', () => {
    const m = model('llama-3-8b');
    expect(kvCacheBytes(m, 'bf16', 2, 17, 1, 1, 'vllm', 16).bytes).toBe(2 * 32 * 131_072);
  });
});
