/**
 * The estimator against every real prefill on the H200 (test/fixtures/groundtruth/h200_calibration.jsonl, and
 * h200_heldout.jsonl: six models never used for calibration): weights and KV exact to the byte, peak allocation
 * and device-used within the targets.
 */
import { describe, expect, it } from 'vitest';
import { estimate } from '../../../shared/estimator/index.ts';
import { loadCalibration, loadHeldOut, loadMoe, loadStaticCache, loadTensorParallel } from '../../bench/estimatorFixture.ts';

const cases = loadCalibration();
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

describe('estimate() on the H200 calibration runs', () => {
  it('covers all completed runs of the fixture', () => {
    expect(cases.length).toBe(39);
  });

  it.each(cases)('$label: weights and KV exact, peak within 3 %', (c) => {
    const e = estimate(c.input);
    expect(e.weightsBytes).toBe(c.run.weight_bytes);
    expect(e.kvCacheBytes).toBe(c.run.kv_bytes);
    expect(Math.abs(e.peakAllocatedBytes - c.run.prefill_peak) / c.run.prefill_peak).toBeLessThanOrEqual(0.03);
  });

  it('peakAllocatedBytes: median error ≤ 1 %', () => {
    const errs = cases.map((c) => Math.abs(estimate(c.input).peakAllocatedBytes - c.run.prefill_peak) / c.run.prefill_peak);
    expect(median(errs)).toBeLessThanOrEqual(0.01);
  });

  const usedErr = (c: (typeof cases)[number]): number => Math.abs(estimate(c.input).deviceUsedBytes - c.run.nvml_after_prefill) / c.run.nvml_after_prefill;

  it('deviceUsedBytes: median error ≤ 3 %, max ≤ 8 %', () => {
    expect(median(cases.map(usedErr))).toBeLessThanOrEqual(0.03);
    expect(Math.max(...cases.map(usedErr))).toBeLessThanOrEqual(0.08);
  });

  it('eager attention keeps the third 2 GiB fp32 score segment the H200 kept (Llama-3-8B b1×s4096 within 1 %)', () => {
    for (const c of cases.filter((x) => x.run.attn === 'eager')) expect(usedErr(c)).toBeLessThanOrEqual(0.01);
  });

  it('models allocator slack from the allocator: reserved exceeds the peak by 0–25 %', () => {
    for (const c of cases) {
      const e = estimate(c.input);
      const slack = (e.reservedBytes - e.peakAllocatedBytes) / e.reservedBytes;
      expect(slack).toBeGreaterThanOrEqual(0);
      expect(slack).toBeLessThanOrEqual(0.25);
    }
  });
});

describe('estimate() on the held-out H200 runs (Mistral-7B, Qwen2.5-7B, Llama-2-13B, Qwen3-8B, Phi-3-mini, Gemma-2-2B)', () => {
  const held = loadHeldOut();
  const err = (c: (typeof held)[number], key: 'peakAllocatedBytes' | 'deviceUsedBytes'): number => {
    const measured = key === 'peakAllocatedBytes' ? c.run.prefill_peak : c.run.nvml_after_prefill;
    return Math.abs(estimate(c.input)[key] - measured) / measured;
  };

  it('covers the 53 completed runs of six models (Llama-2-13B b32×4096 ran out of memory)', () => {
    expect(held.length).toBe(53);
    expect(new Set(held.map((c) => c.run.model)).size).toBe(6);
  });

  it.each(held)('$label: weights exact, peak within 3 %, device used within 8 %', (c) => {
    expect(estimate(c.input).weightsBytes).toBe(c.run.weight_bytes);
    expect(err(c, 'peakAllocatedBytes')).toBeLessThanOrEqual(0.03);
    expect(err(c, 'deviceUsedBytes')).toBeLessThanOrEqual(0.08);
  });

  it('medians within the targets: peak ≤ 1 %, device used ≤ 3 %', () => {
    expect(median(held.map((c) => err(c, 'peakAllocatedBytes')))).toBeLessThanOrEqual(0.01);
    expect(median(held.map((c) => err(c, 'deviceUsedBytes')))).toBeLessThanOrEqual(0.03);
  });
});

describe('estimate() with tensor parallelism, every rank of two H200s (transformers tp_plan="auto", 16-layer Llama-3-8B)', () => {
  const runs = loadTensorParallel();
  const err = (measured: number, predicted: number): number => Math.abs(predicted - measured) / measured;

  it('covers both ranks of five prefill shapes', () => {
    expect(runs.length).toBe(10);
    expect(new Set(runs.map((c) => c.run.rank))).toEqual(new Set([0, 1]));
  });

  it.each(runs)('$label: weights exact (embedding whole on every rank), peak within 1 %, device used within 3 %', (c) => {
    const e = estimate({ ...c.input, newTokens: c.run.decode_steps });
    expect(e.weightsBytes).toBe(c.run.weight_bytes);
    expect(e.kvCacheBytes).toBe(c.run.kv_bytes_after_decode);
    expect(err(c.run.prefill_peak, e.prefillPeakAllocatedBytes)).toBeLessThanOrEqual(0.01);
    expect(err(c.run.decode_peak, e.decodePeakAllocatedBytes)).toBeLessThanOrEqual(0.01);
    expect(err(c.run.nvml_after_prefill, e.deviceUsedBytes)).toBeLessThanOrEqual(0.03);
    expect(err(c.run.nvml_after_decode, e.deviceUsedAfterDecodeBytes)).toBeLessThanOrEqual(0.03);
  });

  it('would miss the weights by 10 % with the embedding split like vLLM splits it', () => {
    const c = runs[0]!;
    const vllmLike = estimate({ ...c.input, engine: { kind: 'vllm' } });
    expect(err(c.run.weight_bytes, vllmLike.weightsBytes)).toBeGreaterThan(0.09);
  });
});

describe('estimate() with transformers\' StaticCache (engine hf-static) on one H200: Llama-3-8B, Qwen2.5-0.5B, Gemma-2-2B', () => {
  const runs = loadStaticCache();
  const err = (measured: number, predicted: number): number => Math.abs(predicted - measured) / measured;
  const find = (label: string): (typeof runs)[number] => runs.find((c) => c.label === label)!;

  it('covers 30 runs: three models, caches of prompt + 16 tokens and roomier ones, SDPA and eager', () => {
    expect(runs.length).toBe(30);
    expect(new Set(runs.map((c) => c.run.model)).size).toBe(3);
    expect(runs.filter((c) => c.run.max_cache_len! >= 2 * c.run.seq).length).toBe(9);
  });

  it.each(runs)('$label: weights and cache buffers exact, prefill and decode peaks within 1 %, device used within 8 %', (c) => {
    const e = estimate({ ...c.input, newTokens: c.run.decode_steps });
    expect(e.weightsBytes).toBe(c.run.weight_bytes);
    expect(e.kvCacheBytes).toBe(c.run.kv_bytes);
    expect(err(c.run.prefill_peak, e.prefillPeakAllocatedBytes)).toBeLessThanOrEqual(0.01);
    expect(err(c.run.decode_peak, e.decodePeakAllocatedBytes)).toBeLessThanOrEqual(0.01);
    expect(err(c.run.nvml_after_prefill, e.deviceUsedBytes)).toBeLessThanOrEqual(0.08);
    expect(err(c.run.nvml_after_decode, e.deviceUsedAfterDecodeBytes)).toBeLessThanOrEqual(0.08);
  });

  it('medians: peak ≤ 0.1 %, device used ≤ 1 %', () => {
    expect(median(runs.map((c) => err(c.run.prefill_peak, estimate(c.input).prefillPeakAllocatedBytes)))).toBeLessThanOrEqual(0.001);
    expect(median(runs.map((c) => err(c.run.nvml_after_prefill, estimate(c.input).deviceUsedBytes)))).toBeLessThanOrEqual(0.01);
  });

  it('a decode step attends over the whole buffer behind a mask: GQA repeats K and V over all 8192 tokens (512 MiB)', () => {
    const c = find('llama-3-8b bf16 sdpa b4×s2048 static 8192');
    const e = estimate({ ...c.input, newTokens: 16 });
    expect(c.run.decode_peak - c.run.weight_bytes - c.run.kv_bytes).toBeGreaterThan(512 * 2 ** 20);
    expect(err(c.run.decode_peak, e.decodePeakAllocatedBytes)).toBeLessThanOrEqual(0.001);
  });

  it('eager scores span the buffer, not the prompt: a 512-token prompt in a 4096-token cache', () => {
    const c = find('qwen2.5-0.5b bf16 eager b1×s512 static 4096');
    const short = find('qwen2.5-0.5b bf16 eager b1×s512 static 528');
    expect(c.run.prefill_peak - short.run.prefill_peak).toBeGreaterThan(250 * 2 ** 20);
    expect(err(c.run.prefill_peak, estimate(c.input).prefillPeakAllocatedBytes)).toBeLessThanOrEqual(0.01);
  });

  it('Gemma-2\'s sliding layers hold the window, not max_cache_len', () => {
    const c = find('gemma-2-2b bf16 sdpa b8×s8192 static 8208');
    const e = estimate(c.input);
    expect(e.kvCacheBytes).toBe(c.run.kv_bytes);
    expect(err(c.run.prefill_peak, e.prefillPeakAllocatedBytes)).toBeLessThanOrEqual(0.01);
  });
});

describe('estimate() on MoE and MLA models (transformers 5 grouped_mm experts, latent KV cache): Mixtral-8x7B, Qwen3-30B-A3B, DeepSeek-V2-Lite widths, 4-8 layers', () => {
  const runs = loadMoe();
  const err = (measured: number, predicted: number): number => Math.abs(predicted - measured) / measured;
  // Recorded late in one process, after earlier runs' empty_cache: the driver handed freed address ranges back out of
  // top-down order, and the same shape in a process of its own measures what the estimate says (below).
  const reusedAddresses = new Set(['deepseek-v2-lite-6l bf16 eager b1×s4096', 'deepseek-v2-lite-6l bf16 eager b4×s2048']);

  it('covers 27 runs of three models and one run repeated in a fresh process', () => {
    expect(runs.length).toBe(28);
    expect(new Set(runs.map((c) => c.run.model)).size).toBe(3);
  });

  it.each(runs)('$label: weights and KV exact, prefill and decode peaks within 1 %, device used within 3 %', (c) => {
    const e = estimate({ ...c.input, newTokens: c.run.decode_steps });
    expect(e.weightsBytes).toBe(c.run.weight_bytes);
    expect(e.kvCacheBytes).toBe(c.run.kv_bytes_after_decode);
    expect(err(c.run.prefill_peak, e.prefillPeakAllocatedBytes)).toBeLessThanOrEqual(0.01);
    expect(err(c.run.decode_peak, e.decodePeakAllocatedBytes)).toBeLessThanOrEqual(0.01);
    const limit = reusedAddresses.has(c.label) ? 0.1 : 0.03;
    expect(err(c.run.nvml_after_prefill, e.deviceUsedBytes)).toBeLessThanOrEqual(limit);
    expect(err(c.run.nvml_after_decode, e.deviceUsedAfterDecodeBytes)).toBeLessThanOrEqual(limit);
  });

  it('the experts run as one grouped GEMM over every (token, expert) pair: Mixtral b32×4096 holds 36 GB of activations', () => {
    const c = runs.find((x) => x.label === 'mixtral-8x7b-4l bf16 sdpa b32×s4096')!;
    expect(c.run.prefill_peak - c.run.weight_bytes).toBeGreaterThan(36e9);
    expect(err(c.run.prefill_peak, estimate(c.input).prefillPeakAllocatedBytes)).toBeLessThanOrEqual(0.001);
  });

  it('DeepSeek-V2 caches the compressed latent (kv_lora_rank + rope dim per token and layer), not per-head K and V', () => {
    const c = runs.find((x) => x.label === 'deepseek-v2-lite-6l bf16 sdpa b8×s8192')!;
    expect(c.run.kv_bytes).toBe(8 * 8192 * 6 * (512 + 64) * 2);
    expect(estimate(c.input).kvCacheBytes).toBe(c.run.kv_bytes);
  });

  it('in a process of its own, DeepSeek eager b1×4096 measures what the top-down address order predicts (within 0.5 %; the run recorded late measured 9.6 % less)', () => {
    const fresh = runs.find((x) => x.run.fresh_process === true)!;
    const late = runs.find((x) => x.label === 'deepseek-v2-lite-6l bf16 eager b1×s4096')!;
    expect(fresh.run.nvml_after_prefill - late.run.nvml_after_prefill).toBeGreaterThan(1e9);
    expect(err(fresh.run.nvml_after_prefill, estimate(fresh.input).deviceUsedBytes)).toBeLessThanOrEqual(0.005);
  });
});

describe('decode steps replayed after the prefill, against the same runs (16 decode steps each)', () => {
  const runs = [...cases, ...loadHeldOut()];
  const decode = (c: (typeof runs)[number]) => estimate({ ...c.input, newTokens: c.run.decode_steps });
  const usedErr = (c: (typeof runs)[number]): number => Math.abs(decode(c).deviceUsedAfterDecodeBytes - c.run.nvml_after_decode) / c.run.nvml_after_decode;

  it('deviceUsedAfterDecodeBytes: median ≤ 1 %, max ≤ 3 % over all 92 runs', () => {
    const errs = runs.map(usedErr);
    expect(median(errs)).toBeLessThanOrEqual(0.01);
    expect(Math.max(...errs)).toBeLessThanOrEqual(0.03);
  });

  it('decodePeakAllocatedBytes: median ≤ 1 %, max ≤ 3 %', () => {
    const errs = runs.map((c) => Math.abs(decode(c).decodePeakAllocatedBytes - c.run.decode_peak) / c.run.decode_peak);
    expect(median(errs)).toBeLessThanOrEqual(0.01);
    expect(Math.max(...errs)).toBeLessThanOrEqual(0.03);
  });

  it('captures the growth of reserved while decoding MHA models (Llama-2-7B b32×4096: +27.7 GB in 16 steps)', () => {
    const c = runs.find((x) => x.label === 'llama-2-7b bf16 sdpa b32×s4096')!;
    const e = decode(c);
    const measuredGrowth = c.run.reserved_after_decode - c.run.reserved_after_prefill;
    expect(measuredGrowth).toBeGreaterThan(27e9);
    expect(Math.abs(e.reservedAfterDecodeBytes - e.reservedBytes - measuredGrowth) / measuredGrowth).toBeLessThanOrEqual(0.03);
    // The after-prefill number alone misses the process after decoding by far more than the targets.
    expect((c.run.nvml_after_decode - e.deviceUsedBytes) / c.run.nvml_after_decode).toBeGreaterThan(0.15);
  });
});
