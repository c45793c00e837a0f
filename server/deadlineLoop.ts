/**
 * A poll loop scheduled from deadlines with a chained setTimeout: each run is due one interval after the
 * previous deadline (not after the previous run ended), runs never overlap, missed deadlines (a slow call, a
 * busy event loop) are skipped rather than caught up, and a run that throws never stops the loop.
 */
import { createLogger } from './log.ts';

const log = createLogger('loop');

export class DeadlineLoop {
  readonly #intervalMs: number;
  readonly #run: () => Promise<void>;
  readonly #now: () => number;
  readonly #name: string;
  #timer: NodeJS.Timeout | null = null;
  #running = false;
  #nextDueMs = 0;
  #inFlight: Promise<void> | null = null;

  constructor(options: { name: string; intervalMs: number; run: () => Promise<void>; now?: () => number }) {
    this.#name = options.name;
    this.#intervalMs = options.intervalMs;
    this.#run = options.run;
    this.#now = options.now ?? Date.now;
  }

  get running(): boolean {
    return this.#running;
  }

  /** First run at once, then every interval. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#nextDueMs = this.#now();
    this.#schedule();
  }

  /** Stops scheduling and waits for a run in flight. */
  async stop(): Promise<void> {
    this.#running = false;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    await this.#inFlight;
  }

  #schedule(): void {
    if (!this.#running) return;
    const now = this.#now();
    while (this.#nextDueMs <= now - this.#intervalMs) this.#nextDueMs += this.#intervalMs;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#inFlight = this.#safeRun().finally(() => {
        this.#inFlight = null;
        this.#nextDueMs += this.#intervalMs;
        this.#schedule();
      });
    }, Math.max(0, this.#nextDueMs - now));
  }

  async #safeRun(): Promise<void> {
    try {
      await this.#run();
    } catch (e) {
      log.error(`${this.#name}: a run failed; the loop goes on`, { error: String(e) });
    }
  }
}
