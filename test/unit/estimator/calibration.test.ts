/**
 * The estimator against every real prefill on the H200 (test/fixtures/groundtruth/h200_calibration.jsonl):
 * weights and KV exact to the byte, peak allocation and device-used within the targets.
 */
import { describe, expect, it } from 'vitest';
import { estimate } from '../../../shared/estimator/index.ts';
import { loadCalibration } from '../../bench/estimatorFixture.ts';

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

  it('deviceUsedBytes: median error ≤ 3 % over all runs, max ≤ 8 % over the SDPA runs', () => {
    expect(median(cases.map(usedErr))).toBeLessThanOrEqual(0.03);
    expect(Math.max(...cases.filter((c) => c.run.attn === 'sdpa').map(usedErr))).toBeLessThanOrEqual(0.08);
  });

  it('deviceUsedBytes of eager runs stays within 9 % (b1×s4096 misses one cached 2 GiB fp32 score segment: 8.3 %)', () => {
    for (const c of cases.filter((x) => x.run.attn === 'eager')) expect(usedErr(c)).toBeLessThanOrEqual(0.09);
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
