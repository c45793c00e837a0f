/**
 * Host RAM and CPU load through systeminformation, every second by default, scheduled from deadlines with a
 * chained setTimeout (never overlapping, never stopping on an error).
 */
import si from 'systeminformation';
import type { HostSample } from '../../shared/data.ts';
import { createLogger } from '../log.ts';
import { toHostSample } from './hostSample.ts';

const log = createLogger('host');

export const DEFAULT_HOST_INTERVAL_MS = 1_000;

export async function readHostSample(now: () => number = Date.now): Promise<HostSample> {
  const [mem, load] = await Promise.all([si.mem(), si.currentLoad()]);
  return toHostSample(mem, load, now());
}

export class HostPoller {
  #timer: NodeJS.Timeout | null = null;
  #running = false;
  #nextDueMs = 0;
  #failures = 0;
  #inFlight: Promise<void> | null = null;

  constructor(
    readonly onSample: (sample: HostSample) => void,
    readonly intervalMs = DEFAULT_HOST_INTERVAL_MS,
    readonly now: () => number = Date.now,
  ) {}

  start(): void {
    this.#running = true;
    this.#nextDueMs = this.now();
    this.#schedule();
  }

  async stop(): Promise<void> {
    this.#running = false;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    await this.#inFlight;
  }

  #schedule(): void {
    if (!this.#running) return;
    const now = this.now();
    while (this.#nextDueMs <= now - this.intervalMs) this.#nextDueMs += this.intervalMs;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#inFlight = this.#poll().finally(() => {
        this.#inFlight = null;
        this.#nextDueMs += this.intervalMs;
        this.#schedule();
      });
    }, Math.max(0, this.#nextDueMs - now));
  }

  async #poll(): Promise<void> {
    try {
      const sample = await readHostSample(this.now);
      this.#failures = 0;
      if (this.#running) this.onSample(sample);
    } catch (e) {
      this.#failures++;
      if (this.#failures === 1 || this.#failures % 60 === 0) log.warn(`host memory/CPU read failed (${this.#failures} in a row)`, { error: String(e) });
    }
  }
}
