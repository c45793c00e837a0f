/**
 * The growth of memory, robust to the sawtooth of batches: memory rises while a batch runs and falls when it
 * ends, so a straight fit through every sample chases the teeth. Instead, fit the envelope: the maximum of
 * each time bucket, then the median of the slopes between envelope points up to `maxLag` buckets apart (a
 * local Theil–Sen estimate). One tall tooth or one step (weights loading, an admitted batch) touches only
 * the few pairs that straddle it, so it barely moves the median; a trend that lifts every tooth moves it.
 * The fit also reports which fraction of consecutive envelope points rose: a caller asks for most of them
 * to rise before it calls it growth.
 */

export interface Point {
  t: number;
  v: number;
}

export interface EnvelopeFit {
  /** Bytes per second; positive = growing. */
  slopePerSecond: number;
  /** The envelope now: the newest bucket's maximum (measured, not extrapolated). */
  levelNow: number;
  buckets: number;
  /** Fraction of consecutive envelope points that rose by more than the noise step (0–1). */
  risingFraction: number;
  fromMs: number;
  toMs: number;
}

/** Maxima of consecutive buckets of `bucketMs` ending at `nowMs` (oldest first); empty buckets are skipped. */
export function bucketMaxima(points: readonly Point[], nowMs: number, windowMs: number, bucketMs: number): Point[] {
  const from = nowMs - windowMs;
  const n = Math.ceil(windowMs / bucketMs);
  const max: (Point | null)[] = new Array<Point | null>(n).fill(null);
  for (const p of points) {
    if (p.t <= from || p.t > nowMs) continue;
    const i = Math.min(n - 1, Math.floor((p.t - from) / bucketMs));
    const cur = max[i];
    if (!cur || p.v > cur.v) max[i] = p;
  }
  return max.filter((p): p is Point => p !== null);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** Fit through the bucket maxima; null with fewer than `minBuckets` buckets. */
export function fitEnvelope(
  points: readonly Point[],
  nowMs: number,
  windowMs: number,
  bucketMs: number,
  minBuckets = 5,
  noiseStep = 0,
  maxLag = 3,
): EnvelopeFit | null {
  const env = bucketMaxima(points, nowMs, windowMs, bucketMs);
  if (env.length < Math.max(2, minBuckets)) return null;
  const slopes: number[] = [];
  for (let i = 0; i < env.length; i++) {
    for (let j = i + 1; j < Math.min(env.length, i + 1 + maxLag); j++) {
      const a = env[i] as Point;
      const b = env[j] as Point;
      if (b.t > a.t) slopes.push(((b.v - a.v) / (b.t - a.t)) * 1000);
    }
  }
  if (slopes.length === 0) return null;
  const slopePerSecond = median(slopes);
  let rising = 0;
  for (let i = 1; i < env.length; i++) if ((env[i] as Point).v - (env[i - 1] as Point).v > noiseStep) rising++;
  const last = env[env.length - 1] as Point;
  return {
    slopePerSecond,
    levelNow: last.v,
    buckets: env.length,
    risingFraction: rising / (env.length - 1),
    fromMs: (env[0] as Point).t,
    toMs: last.t,
  };
}

/** Seconds until the envelope reaches `limit`, or null when it does not grow (faster than `minSlope`). */
export function timeToLimitMs(fit: EnvelopeFit, limit: number, minSlopePerSecond: number): number | null {
  if (fit.slopePerSecond <= minSlopePerSecond) return null;
  const room = limit - fit.levelNow;
  if (room <= 0) return 0;
  return (room / fit.slopePerSecond) * 1000;
}
