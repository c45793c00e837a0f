/**
 * Bounded time series for the charts. A series is an append-only array of `{x: epoch ms, y: bytes}` that
 * drops its oldest points in chunks once it passes its capacity (amortised O(1) per point, no copy per tick),
 * so an hour at 10 Hz per GPU stays cheap to keep and to hand to chart.js (which decimates it for drawing).
 */

export interface Point {
  x: number;
  y: number;
}

/** One hour at 10 Hz. */
export const SERIES_CAPACITY = 36_000;

export class Series {
  readonly capacity: number;
  /** Oldest first. Mutated in place; readers take `points` and `version` together. */
  readonly points: Point[] = [];
  version = 0;

  constructor(capacity = SERIES_CAPACITY) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`Series capacity must be a positive integer, got ${capacity}`);
    this.capacity = capacity;
  }

  /** Append a point; out-of-order points (older than the newest) are dropped, so x stays sorted for chart.js. */
  push(x: number, y: number): void {
    const last = this.points[this.points.length - 1];
    if (last && x < last.x) return;
    this.points.push({ x, y });
    // Drop an eighth of the capacity at once: one memmove per capacity/8 pushes instead of one per push.
    if (this.points.length > this.capacity) this.points.splice(0, this.points.length - this.capacity + Math.ceil(this.capacity / 8));
    this.version++;
  }

  get last(): Point | undefined {
    return this.points[this.points.length - 1];
  }

  clear(): void {
    this.points.length = 0;
    this.version++;
  }
}

/** A keyed set of series (per GPU, per process), created on first use and retired when their key vanishes. */
export class SeriesSet {
  readonly #capacity: number;
  readonly #series = new Map<string, Series>();

  constructor(capacity = SERIES_CAPACITY) {
    this.#capacity = capacity;
  }

  get(key: string): Series {
    let s = this.#series.get(key);
    if (!s) this.#series.set(key, (s = new Series(this.#capacity)));
    return s;
  }

  /** The series if it exists (never creates one). */
  peek(key: string): Series | undefined {
    return this.#series.get(key);
  }

  has(key: string): boolean {
    return this.#series.has(key);
  }

  keys(): string[] {
    return [...this.#series.keys()];
  }

  delete(key: string): void {
    this.#series.delete(key);
  }

  clear(): void {
    this.#series.clear();
  }
}

/** A read-only view handed to components: the shared array plus a version that changes on every push. */
export interface SeriesView {
  key: string;
  label: string;
  points: readonly Point[];
  version: number;
}

export function viewOf(key: string, label: string, s: Series): SeriesView {
  return { key, label, points: s.points, version: s.version };
}

/** The y of the newest point at or before `x` (binary search), or null. */
export function valueAt(points: readonly Point[], x: number): number | null {
  let lo = 0;
  let hi = points.length - 1;
  let found: Point | undefined;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const p = points[mid] as Point;
    if (p.x <= x) {
      found = p;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found ? found.y : null;
}
