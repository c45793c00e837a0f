/**
 * estimate() over random catalog inputs (fixed seed): every model, dtype, batch, prompt, decode length, attention,
 * logits mode, KV dtype, TP degree, GPU and HF cache kind. Numbers stay finite and non-negative, the verdict
 * agrees with them, and decoding never leaves less reserved than an unbounded allocator would need.
 */
import { describe, expect, it } from 'vitest';
import { estimate, GPUS, MODELS, type EstimateInput } from '../../../shared/estimator/index.ts';

function inputs(count: number): EstimateInput[] {
  let seed = 20261121;
  const rnd = (): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
  const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const out: EstimateInput[] = [];
  for (let i = 0; i < count; i++) {
    const model = pick(MODELS);
    out.push({
      model, dtype: pick(['bf16', 'fp16', 'fp32'] as const), batch: 1 + Math.floor(rnd() * 64), promptTokens: 1 + Math.floor(rnd() * 16384),
      newTokens: pick([0, 0, 1, 16, 100, 2000]), attention: pick(['sdpa', 'eager'] as const), logits: pick(['last', 'all'] as const),
      kvDtype: pick(['bf16', 'bf16', 'fp8', 'int8'] as const), tp: pick([1, 2, 4, 8].filter((t) => model.heads % t === 0)), gpu: pick(GPUS),
      engine: pick([{ kind: 'hf-dynamic' }, { kind: 'hf-dynamic' }, { kind: 'hf-static' }] as const),
    });
  }
  return out;
}

describe('estimate() on 300 random inputs', () => {
  it('gives finite, non-negative numbers and a verdict consistent with them', () => {
    let estimated = 0;
    for (const input of inputs(300)) {
      let e;
      try {
        e = estimate(input);
      } catch (err) {
        expect((err as Error).name, (err as Error).message).toBe('EstimateError'); // refused with a reason, never a crash
        continue;
      }
      estimated++;
      for (const [k, v] of Object.entries(e)) {
        if (typeof v !== 'number') continue;
        expect(Number.isFinite(v), k).toBe(true);
        if (k !== 'headroomBytes') expect(v, k).toBeGreaterThanOrEqual(0);
      }
      const most = Math.max(e.deviceUsedBytes, e.deviceUsedAfterDecodeBytes, e.peakAllocatedBytes + e.cudaContextBytes + e.ncclBytes);
      if (e.fits) expect(most).toBeLessThanOrEqual(e.gpuMemoryBytes);
      expect(e.headroomBytes).toBe(e.gpuMemoryBytes - most);
      if (input.newTokens === 0) expect(e.deviceUsedAfterDecodeBytes).toBe(e.deviceUsedBytes);
    }
    expect(estimated).toBeGreaterThan(250);
  });
});
