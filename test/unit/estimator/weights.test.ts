/** Weights against hand-computed facts (docs/estimator.md §7.1, §3.1): exact parameter counts and bytes. */
import { describe, expect, it } from 'vitest';
import { bitsPerWeight, estimate, findModel, linearBytes, paramCount, weightsBreakdown } from '../../../shared/estimator/index.ts';

const GiB = 1024 ** 3;
const model = (id: string) => {
  const m = findModel(id);
  if (!m) throw new Error(`catalog lacks ${id}`);
  return m;
};

describe('paramCount()', () => {
  it.each([
    ['llama-2-7b', 6_738_415_616],
    ['llama-2-13b', 13_015_864_320],
    ['llama-2-70b', 68_976_648_192],
    ['llama-3-8b', 8_030_261_248],
    ['llama-3-70b', 70_553_706_496],
    ['mistral-7b-v0.1', 7_241_732_096],
    ['qwen2-7b', 7_615_616_512],
    ['qwen2.5-72b', 72_706_203_648],
    ['mixtral-8x7b', 46_702_792_704],
    ['deepseek-v2-lite', 15_706_484_224],
    ['gemma-2-2b', 2_614_341_888],
    ['gemma-2-9b', 9_241_705_984],
    ['gemma-2-27b', 27_227_128_320],
    ['tinyllama-1.1b', 1_100_048_384],
    ['qwen2.5-0.5b', 494_032_768],
  ])('%s has exactly %d parameters', (id, n) => {
    expect(paramCount(model(id))).toBe(n);
  });

  it('has at least 25 catalog models, each with a positive count', () => {
    const ids = ['llama-3.1-405b', 'deepseek-v3', 'qwen3-8b', 'phi-3-mini', 'chatglm3-6b', 'mixtral-8x22b'];
    for (const id of ids) expect(paramCount(model(id))).toBeGreaterThan(1e9);
  });
});

describe('weights bytes', () => {
  it('Llama-3-8B in bf16 is 16,060,522,496 bytes (the measured H200 figure)', () => {
    const e = estimate({ model: model('llama-3-8b'), dtype: 'bf16', batch: 1, promptTokens: 16 });
    expect(e.weightsBytes).toBe(16_060_522_496);
    expect(e.params).toBe(8_030_261_248);
  });

  it('Llama-2-7B bf16 and TinyLlama fp32 match the measured weight bytes', () => {
    expect(weightsBreakdown(model('llama-2-7b'), 'bf16', 'bf16').totalBytes).toBe(13_476_831_232);
    expect(weightsBreakdown(model('tinyllama-1.1b'), 'fp32', 'fp32').totalBytes).toBe(4_400_193_536);
  });

  it('quantized Llama-3-8B matches the worked example (GPTQ 5.33, NF4+DQ 5.31, NF4 5.61 GiB)', () => {
    const m = model('llama-3-8b');
    expect(weightsBreakdown(m, 'gptq-int4', 'bf16').totalBytes / GiB).toBeCloseTo(5.33, 1);
    expect(weightsBreakdown(m, 'nf4-dq', 'bf16').totalBytes / GiB).toBeCloseTo(5.31, 1);
    expect(weightsBreakdown(m, 'nf4', 'bf16').totalBytes / GiB).toBeCloseTo(5.61, 1);
  });

  it('packs GPTQ 4-bit g128 exactly as AutoGPTQ QuantLinear tensors', () => {
    // qweight int32 [4096·4/32, 11008], qzeros int32 [32, 11008·4/32], scales fp16 [32, 11008], g_idx int32 [4096]
    const bytes = 512 * 11008 * 4 + 32 * 1376 * 4 + 32 * 11008 * 2 + 4096 * 4;
    expect(linearBytes('gptq-int4', 11008, 4096, 128)).toBe(bytes);
  });

  it.each([
    ['nf4', 4.5], ['nf4-dq', 4.127], ['q4_0', 4.5], ['q8_0', 8.5], ['q2_k', 2.625], ['q3_k', 3.4375], ['q4_k', 4.5], ['q5_k', 5.5], ['q6_k', 6.5625], ['bf16', 16],
  ] as const)('%s stores %f bits per weight', (scheme, bpw) => {
    expect(bitsPerWeight(scheme)).toBeCloseTo(bpw, 2);
  });

  it('splits weights over tensor parallel ranks and keeps replicated norms', () => {
    const m = model('llama-3-70b');
    const one = weightsBreakdown(m, 'bf16', 'bf16', 1).perGpuBytes;
    const four = weightsBreakdown(m, 'bf16', 'bf16', 4).perGpuBytes;
    expect(four).toBeGreaterThan(one / 4);
    expect(four).toBeLessThan(one / 4 + 10 * 1024 * 1024);
  });
});
