/** Engine profiles, parallelism, training and the solvers: behaviour that follows from the formulas. */
import { describe, expect, it } from 'vitest';
import { EstimateError, estimate, findGpu, findModel, GPUS, MODELS, solveMaxBatch, solveMaxPrompt, solveSmallestGpu, type EstimateInput } from '../../../shared/estimator/index.ts';

const GiB = 1024 ** 3;
const llama3 = findModel('llama-3-8b')!;
const base: EstimateInput = { model: llama3, dtype: 'bf16', batch: 8, promptTokens: 2048, gpu: findGpu('h200')! };

describe('estimate()', () => {
  it('adds its components up to deviceUsedBytes and explains every one', () => {
    const e = estimate(base);
    expect(e.weightsBytes + e.kvCacheBytes + e.activationBytes + e.logitsBytes + e.overheadBytes).toBe(e.deviceUsedBytes);
    for (const k of ['weightsBytes', 'kvCacheBytes', 'activationBytes', 'logitsBytes', 'overheadBytes', 'peakAllocatedBytes', 'deviceUsedBytes', 'fits']) {
      expect(e.explanations[k]).toMatch(/\w/);
    }
  });

  it('runs for every catalog model on every catalog GPU without throwing', () => {
    for (const model of MODELS) for (const gpu of GPUS) expect(estimate({ ...base, model, gpu, batch: 1, promptTokens: 256 }).weightsBytes).toBeGreaterThan(0);
  });

  it('grows with full-sequence logits by about the logits tensor (HF logits_to_keep=0)', () => {
    const last = estimate({ ...base, batch: 1, promptTokens: 4096 });
    const all = estimate({ ...base, batch: 1, promptTokens: 4096, logits: 'all' });
    expect(all.logitsBytes).toBe(4096 * 128256 * 2);
    expect(all.peakAllocatedBytes - last.peakAllocatedBytes).toBeGreaterThan(0.5 * all.logitsBytes);
  });

  it('adds the decode growth: KV for prompt + new tokens', () => {
    const e = estimate({ ...base, newTokens: 512 });
    expect(e.kvCacheBytes).toBe(8 * 2560 * 131072);
    expect(e.decodePeakAllocatedBytes).toBeGreaterThan(e.weightsBytes + e.kvCacheBytes);
  });

  it('splits over tensor parallel GPUs and charges NCCL per rank', () => {
    const model = findModel('llama-3-70b')!;
    const embedBytes = model.vocab * model.hidden * 2;
    const normBytes = (2 * model.layers + 1) * model.hidden * 2; // RMSNorm weights: on every rank
    const t1 = estimate({ ...base, model });
    const t4 = estimate({ ...base, model, tp: 4 });
    // transformers' tp_plan keeps the input embedding whole on every rank (seen on two H200s) and splits the rest.
    const replicated = embedBytes + normBytes;
    expect(t4.weightsBytes).toBe(replicated + (t1.weightsBytes - replicated) / 4);
    expect(t4.kvCacheBytes).toBe(t1.kvCacheBytes / 4);
    expect(t4.ncclBytes).toBe(838 * 1024 * 1024);
    // vLLM splits the embedding too (VocabParallelEmbedding).
    const v1 = estimate({ ...base, model, engine: { kind: 'vllm' } });
    const v4 = estimate({ ...base, model, tp: 4, engine: { kind: 'vllm' } });
    expect(v4.weightsBytes).toBe(normBytes + (v1.weightsBytes - normBytes) / 4);
  });

  it('fills the vLLM budget with the KV pool (total × utilization − non-KV)', () => {
    const e = estimate({ ...base, engine: { kind: 'vllm', gpuMemoryUtilization: 0.9 } });
    const budget = Math.floor(findGpu('h200')!.memoryBytes * 0.9);
    expect(e.kvCacheBytes).toBeGreaterThan(budget - e.weightsBytes - 20 * GiB);
    expect(e.kvCacheBytes).toBeLessThan(budget - e.weightsBytes);
  });

  it('sizes llama.cpp KV from n_ctx and the KV type', () => {
    const e = estimate({ ...base, weightScheme: 'q4_k', kvDtype: 'int8', engine: { kind: 'llamacpp', nCtx: 8192 } });
    expect(e.kvCacheBytes).toBe(8192 * 131072 / 2 * (34 / 32));
  });

  it('accounts mixed-precision Adam at 16 B/param and ZeRO as DeepSpeed (§7.3)', () => {
    const train = (zeroStage: 0 | 2 | 3) => estimate({ ...base, batch: 1, promptTokens: 512, training: { optimizer: 'adamw', mixedPrecision: true, zeroStage, dataParallel: 8, checkpointing: true, offload: 'none' } });
    const states = (e: ReturnType<typeof train>) => (e.weightsBytes + e.gradientsBytes + e.optimizerBytes) / GiB;
    expect(states(train(0))).toBeCloseTo(119.7, 1);
    expect(states(train(2))).toBeCloseTo(31.8, 1);
    expect(states(train(3))).toBeCloseTo(18.8, 1);
  });

  it('rejects impossible inputs with a message naming the value', () => {
    expect(() => estimate({ ...base, batch: 0 })).toThrow(EstimateError);
    expect(() => estimate({ ...base, tp: 3 })).toThrow(/tp 3 must divide/);
    expect(() => estimate({ ...base, promptTokens: 1.5 })).toThrow(/prompt tokens/);
  });
});

describe('solvers', () => {
  it('finds the largest batch that fits, and one more does not', () => {
    const input = { ...base, promptTokens: 8192 };
    const b = solveMaxBatch(input);
    expect(b).toBeGreaterThan(1);
    expect(estimate({ ...input, batch: b }).fits).toBe(true);
    expect(estimate({ ...input, batch: b + 1 }).fits).toBe(false);
  });

  it('finds the longest prompt that fits at a batch', () => {
    const input = { ...base, batch: 64, gpu: findGpu('a100-80')! };
    const s = solveMaxPrompt(input, 1 << 20);
    expect(estimate({ ...input, promptTokens: s }).fits).toBe(true);
    expect(estimate({ ...input, promptTokens: s + 1 }).fits).toBe(false);
  });

  it('puts Llama-3-70B bf16 (131.4 GiB of weights) on one 141 GB-class GPU or eight 24 GB ones', () => {
    const choices = solveSmallestGpu({ ...base, model: findModel('llama-3-70b')!, batch: 1, promptTokens: 1024 });
    expect(choices[0]!.count).toBe(1);
    expect(choices[0]!.gpu.memoryBytes).toBeGreaterThan(140e9);
    expect(choices.find((c) => c.gpu.id === 'h100')?.count).toBe(2);
    expect(choices.find((c) => c.gpu.id === 'rtx4090')?.count).toBe(8);
    for (const c of choices) expect(c.estimate.fits).toBe(true);
  });
});

describe('explanations', () => {
  it.each([
    ['hf', {}], ['vllm', { engine: { kind: 'vllm' } }], ['llama.cpp', { engine: { kind: 'llamacpp' } }],
    ['training', { training: { optimizer: 'adamw', mixedPrecision: true, zeroStage: 2, dataParallel: 4, checkpointing: true, offload: 'none' } }],
  ] as const)('give every number and the verdict a one-line explanation (%s)', (_name, extra) => {
    const e = estimate({ ...base, ...extra } as EstimateInput);
    for (const [k, v] of Object.entries(e)) {
      if (k === 'explanations') continue;
      expect(typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string').toBe(true);
      expect(e.explanations[k], k).toMatch(/\S/);
      expect(e.explanations[k], k).not.toContain('\n');
    }
  });

  it('names the phase of the prefill peak', () => {
    expect(estimate({ ...base, batch: 1, promptTokens: 4096 }).explanations.activationBytes).toContain('MLP');
    expect(estimate({ ...base, batch: 1, promptTokens: 4096, logits: 'all' }).explanations.activationBytes).toContain('logits');
    expect(estimate({ ...base, batch: 1, promptTokens: 4096, attention: 'eager' }).explanations.activationBytes).toContain('eager attention scores');
  });
});
