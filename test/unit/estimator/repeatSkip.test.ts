/**
 * The prefill replay skips layers when the allocator's state repeats. That skip must be exact: on a fixed-seed
 * set of random catalog inputs, every estimate with the skip equals the full replay (skip off) to the byte.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { clearReplayMemo, setRepeatSkipping } from '../../../shared/estimator/forward.ts';
import { estimate, MODELS, type EstimateInput, type KvDtype } from '../../../shared/estimator/index.ts';

/** mulberry32: a small seeded PRNG, so the set of inputs is the same on every run. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomInputs(count: number, seed: number): EstimateInput[] {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const out: EstimateInput[] = [];
  for (let i = 0; i < count; i++) {
    const model = pick(MODELS);
    const input: EstimateInput = {
      model,
      dtype: pick(['bf16', 'fp16', 'fp32'] as const),
      batch: 1 + Math.floor(2 ** (r() * 6)) - 1,
      promptTokens: Math.max(1, Math.floor(2 ** (r() * 15))),
      attention: pick(['sdpa', 'eager'] as const),
      logits: pick(['last', 'last', 'all'] as const),
    };
    if (r() < 0.2) input.kvDtype = pick<KvDtype>(['fp8', 'int8', 'int4']);
    if (r() < 0.2) input.newTokens = 1 + Math.floor(r() * 512);
    if (r() < 0.1) input.engine = { kind: 'hf-static' };
    if (r() < 0.1) input.tp = pick([2, 4, 8]);
    else if (r() < 0.05) input.pp = 2;
    out.push(input);
  }
  return out;
}

type Outcome = { peakAllocatedBytes: number; deviceUsedBytes: number; reservedBytes: number } | { error: string };

function run(inputs: readonly EstimateInput[], skip: boolean): Outcome[] {
  clearReplayMemo();
  setRepeatSkipping(skip);
  try {
    return inputs.map((input) => {
      try {
        const e = estimate(input);
        return { peakAllocatedBytes: e.peakAllocatedBytes, deviceUsedBytes: e.deviceUsedBytes, reservedBytes: e.reservedBytes };
      } catch (err) {
        return { error: String(err) };
      }
    });
  } finally {
    setRepeatSkipping(true);
    clearReplayMemo();
  }
}

describe('prefill replay: layer-repeat skip', () => {
  afterAll(() => setRepeatSkipping(true));

  it('gives the full replay’s peak, reserved and device-used bytes on 4,000 random catalog inputs', () => {
    const inputs = randomInputs(4000, 20261121);
    const skipped = run(inputs, true);
    const full = run(inputs, false);
    const estimated = full.filter((o) => !('error' in o)).length;
    expect(estimated).toBeGreaterThan(3000); // most random inputs are valid: the comparison is not vacuous
    const mismatches: string[] = [];
    inputs.forEach((input, i) => {
      if (JSON.stringify(skipped[i]) === JSON.stringify(full[i])) return;
      const { model, ...rest } = input;
      mismatches.push(`${model.id} ${JSON.stringify(rest)}: skip ${JSON.stringify(skipped[i])} vs full ${JSON.stringify(full[i])}`);
    });
    expect(mismatches).toEqual([]);
  }, 120_000);
});
