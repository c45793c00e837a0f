/**
 * Host RAM and CPU load through systeminformation, every second by default, scheduled from deadlines with a
 * chained setTimeout (never overlapping, never stopping on an error).
 */
import si from 'systeminformation';
import type { HostSample } from '../../shared/data.ts';
import { DeadlineLoop } from '../deadlineLoop.ts';
import { createLogger } from '../log.ts';
import { toHostSample } from './hostSample.ts';

const log = createLogger('host');

export const DEFAULT_HOST_INTERVAL_MS = 1_000;

export async function readHostSample(now: () => number = Date.now): Promise<HostSample> {
  const [mem, load] = await Promise.all([si.mem(), si.currentLoad()]);
  return toHostSample(mem, load, now());
}

export class HostPoller {
  readonly #loop: DeadlineLoop;
  #failures = 0;

  constructor(
    readonly onSample: (sample: HostSample) => void,
    readonly intervalMs = DEFAULT_HOST_INTERVAL_MS,
    readonly now: () => number = Date.now,
  ) {
    this.#loop = new DeadlineLoop({ name: 'host', intervalMs, now, run: () => this.#poll() });
  }

  start(): void {
    this.#loop.start();
  }

  stop(): Promise<void> {
    return this.#loop.stop();
  }

  async #poll(): Promise<void> {
    try {
      const sample = await readHostSample(this.now);
      this.#failures = 0;
      if (this.#loop.running) this.onSample(sample);
    } catch (e) {
      this.#failures++;
      if (this.#failures === 1 || this.#failures % 60 === 0) log.warn(`host memory/CPU read failed (${this.#failures} in a row)`, { error: String(e) });
    }
  }
}
