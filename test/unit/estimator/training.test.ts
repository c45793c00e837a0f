/**
 * Training mode against plain-PyTorch training steps measured on an H200 (test/fixtures/groundtruth/
 * h200_training.jsonl: Qwen2.5-0.5B, Llama-3.2-1B, TinyLlama-1.1B; AMP or pure bf16; AdamW or SGD; with and
 * without gradient checkpointing; 3 batch × length shapes; max_memory_allocated over the third step).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { estimate, findGpu, findModel, type Estimate } from '../../../shared/estimator/index.ts';

const Step = z.object({
  kind: z.literal('train'),
  model: z.string(),
  precision: z.enum(['amp', 'bf16']),
  optimizer: z.enum(['adamw', 'sgd']),
  checkpointing: z.boolean(),
  batch: z.number(),
  seq: z.number(),
  param_bytes: z.number(),
  grad_bytes: z.number(),
  optimizer_bytes: z.number(),
  step_peak: z.number(),
  nvml: z.number(),
});
const steps = readFileSync(new URL('../../fixtures/groundtruth/h200_training.jsonl', import.meta.url), 'utf8')
  .split('\n').filter((l) => l.trim()).map((l) => Step.safeParse(JSON.parse(l))).flatMap((p) => (p.success ? [p.data] : []));
const predict = (s: z.infer<typeof Step>): Estimate => estimate({
  model: findModel(s.model)!, dtype: 'bf16', batch: s.batch, promptTokens: s.seq, gpu: findGpu('h200')!,
  training: { optimizer: s.optimizer, mixedPrecision: s.precision === 'amp', zeroStage: 0, dataParallel: 1, checkpointing: s.checkpointing, offload: 'none' },
});
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const label = (s: z.infer<typeof Step>): string => `${s.model} ${s.precision} ${s.optimizer}${s.checkpointing ? ' checkpointing' : ''} b${s.batch}×${s.seq}`;

describe('training steps on the H200', () => {
  it('covers 45 steps of three models', () => {
    expect(steps).toHaveLength(45);
  });

  it.each(steps.map((s) => [label(s), s] as const))('%s: parameters, gradients and optimizer states to the byte; peak within 5 %', (_, s) => {
    const e = predict(s);
    expect(e.weightsBytes).toBe(s.param_bytes);
    expect(e.gradientsBytes).toBe(s.grad_bytes);
    expect(e.optimizerBytes).toBe(s.optimizer_bytes);
    expect(Math.abs(e.peakAllocatedBytes - s.step_peak) / s.step_peak).toBeLessThanOrEqual(0.05);
  });

  it('peak: median error ≤ 1 %; device used (allocator slack from one fitted constant): median ≤ 5 %, max ≤ 25 %', () => {
    expect(median(steps.map((s) => Math.abs(predict(s).peakAllocatedBytes - s.step_peak) / s.step_peak))).toBeLessThanOrEqual(0.01);
    const used = steps.map((s) => Math.abs(predict(s).deviceUsedBytes - s.nvml) / s.nvml);
    expect(median(used)).toBeLessThanOrEqual(0.05);
    expect(Math.max(...used)).toBeLessThanOrEqual(0.25);
  });

  it('keeps torch.optim AdamW moments in the parameters’ dtype (pure bf16: 4 B/param), fp32 under AMP (8 B/param)', () => {
    const bf16 = steps.find((s) => s.precision === 'bf16' && s.optimizer === 'adamw')!;
    const amp = steps.find((s) => s.precision === 'amp' && s.optimizer === 'adamw' && s.model === bf16.model)!;
    expect(predict(bf16).optimizerBytes).toBe(2 * predict(bf16).weightsBytes);
    expect(predict(amp).optimizerBytes).toBe(2 * predict(amp).weightsBytes);
    expect(predict(amp).weightsBytes).toBe(2 * predict(bf16).weightsBytes); // fp32 parameters under autocast
  });
});
