/**
 * Groups the rows of an `-lms` loop into ticks, one sample per GPU. nvidia-smi prints one row per GPU per
 * tick, each with its own timestamp, so rows are grouped by arrival order and GPU index (formats.md §1.4):
 * a row whose index does not rise (or whose uuid repeats) starts a new tick, and a tick is complete as soon
 * as it holds as many GPUs as the last complete one. A GPU that falls off leaves ticks short; the caller's
 * quiet timer flushes those with `flush()`.
 */
import type { GpuSample } from '../../shared/data.ts';

export class TickAssembler {
  #current: GpuSample[] = [];
  #expected = 0;

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
    if (this.#expected > 0 && this.#current.length >= this.#expected) {
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
    this.#expected = tick.length;
    return tick;
  }

  get pending(): number {
    return this.#current.length;
  }

  /** Forget the GPU count (a restarted child may see a different set of GPUs). */
  reset(): void {
    this.#current = [];
    this.#expected = 0;
  }
}
