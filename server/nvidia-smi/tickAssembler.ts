/**
 * Groups the rows of an `-lms` loop into ticks, one sample per GPU. nvidia-smi prints one row per GPU per
 * tick, each with its own timestamp, so rows are grouped by arrival order and GPU index (formats.md §1.4):
 * a row whose index does not rise (or whose uuid repeats) starts a new tick, and a tick is complete as soon
 * as it holds as many GPUs as the largest of the last ticks. A GPU that falls off leaves ticks short; the
 * caller's quiet timer flushes those with `flush()` (and after RECENT_TICKS short ticks the count follows).
 */

/** Ticks whose size sets the expected GPU count: one short tick must not split the following ones. */
const RECENT_TICKS = 10;
import type { GpuSample } from '../../shared/data.ts';

export class TickAssembler {
  #current: GpuSample[] = [];
  #recentSizes: number[] = [];

  /** Add a row; returns the tick it completed (or the previous tick, when this row starts a new one). */
  push(sample: GpuSample): GpuSample[][] {
    const done: GpuSample[][] = [];
    const last = this.#current[this.#current.length - 1];
    const startsNew =
      last !== undefined && (sample.index <= last.index || this.#current.some((g) => g.uuid === sample.uuid));
    if (startsNew) {
      const tick = this.flush();
      if (tick) done.push(tick);
    }
    this.#current.push(sample);
    if (this.#current.length >= this.expected && this.expected > 0) {
      const tick = this.flush();
      if (tick) done.push(tick);
    }
    return done;
  }

  /** Close the tick in progress (quiet timer, or the stream ended). */
  flush(): GpuSample[] | null {
    if (this.#current.length === 0) return null;
    const tick = this.#current;
    this.#current = [];
    this.#recentSizes.push(tick.length);
    if (this.#recentSizes.length > RECENT_TICKS) this.#recentSizes.shift();
    return tick;
  }

  /** GPUs per tick: the most in the last ticks (0 before the first). */
  get expected(): number {
    return this.#recentSizes.length === 0 ? 0 : Math.max(...this.#recentSizes);
  }

  get pending(): number {
    return this.#current.length;
  }

  /** Forget the GPU count (a restarted child may see a different set of GPUs). */
  reset(): void {
    this.#current = [];
    this.#recentSizes = [];
  }
}
