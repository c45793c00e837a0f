import { describe, expect, it } from 'vitest';
import { bucketMaxima, fitEnvelope, timeToLimitMs, type Point } from '../../../server/alerts/envelope.ts';
import { GiB } from '../../../shared/units.ts';

/** Batches every 3 s: memory climbs 6 GiB within a batch and falls back at its end, on a base that grows. */
function sawtooth(seconds: number, baseGrowthPerSecond: number, startBase = 20 * GiB): Point[] {
  const pts: Point[] = [];
  for (let t = 0; t <= seconds * 1000; t += 250) {
    const inBatch = (t % 3000) / 3000;
    pts.push({ t, v: startBase + (baseGrowthPerSecond * t) / 1000 + inBatch * 6 * GiB });
  }
  return pts;
}

describe('envelope fit', () => {
  it('measures the growth of the envelope of a sawtooth, not of its teeth', () => {
    const pts = sawtooth(120, 50 * 1024 * 1024); // base grows 50 MiB/s; teeth rise 2 GiB/s
    const fit = fitEnvelope(pts, 120_000, 120_000, 5_000, 5, 1024 * 1024)!;
    expect(fit.slopePerSecond / (50 * 1024 * 1024)).toBeGreaterThan(0.9);
    expect(fit.slopePerSecond / (50 * 1024 * 1024)).toBeLessThan(1.1);
    expect(fit.risingFraction).toBeGreaterThan(0.9);
    // The envelope now is the top of the newest teeth.
    expect(fit.levelNow).toBeGreaterThan(20 * GiB + 6 * GiB * 0.9);
  });

  it('sees no growth in a flat sawtooth', () => {
    const fit = fitEnvelope(sawtooth(120, 0), 120_000, 120_000, 5_000, 5, 1024 * 1024)!;
    expect(Math.abs(fit.slopePerSecond)).toBeLessThan(64 * 1024 * 1024);
    expect(fit.risingFraction).toBeLessThan(0.5);
  });

  it('does not call one step (weights loading, an admitted batch) a trend', () => {
    const pts: Point[] = [];
    for (let t = 0; t <= 120_000; t += 250) pts.push({ t, v: t < 80_000 ? 20 * GiB : 100 * GiB });
    const fit = fitEnvelope(pts, 120_000, 120_000, 5_000, 5, 1024 * 1024)!;
    expect(fit.risingFraction).toBeLessThan(0.1);
    expect(fit.slopePerSecond).toBe(0);
  });

  it('gives the time until the envelope reaches a limit, or null when it does not grow', () => {
    const fit = { slopePerSecond: GiB, levelNow: 70 * GiB, buckets: 20, risingFraction: 1, fromMs: 0, toMs: 1 };
    expect(timeToLimitMs(fit, 80 * GiB, 1024)).toBe(10_000);
    expect(timeToLimitMs({ ...fit, slopePerSecond: 0 }, 80 * GiB, 1024)).toBeNull();
    expect(timeToLimitMs({ ...fit, levelNow: 81 * GiB }, 80 * GiB, 1024)).toBe(0);
  });

  it('keeps one maximum per bucket inside the window', () => {
    const pts = [{ t: 1, v: 5 }, { t: 2, v: 9 }, { t: 6, v: 1 }, { t: 11, v: 3 }];
    expect(bucketMaxima(pts, 10, 10, 5)).toEqual([{ t: 2, v: 9 }, { t: 6, v: 1 }]);
    expect(fitEnvelope(pts, 10, 10, 5)).toBeNull(); // fewer than 5 buckets
  });
});
