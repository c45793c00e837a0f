/**
 * Polls `nvidia-smi --query-compute-apps=pid,process_name,used_gpu_memory,gpu_uuid` (default every 1 s),
 * scheduled from deadlines with a chained setTimeout: a slow call delays nothing after it and never
 * overlaps the next. Each poll hands over the whole list; processes missing from it are retired. Failures are
 * reported (rate-limited in the log) and polling goes on.
 */
import { execFile } from 'node:child_process';
import type { GpuProcess } from '../../../shared/data.ts';
import { DeadlineLoop } from '../../deadlineLoop.ts';
import { createLogger } from '../../log.ts';
import { COMPUTE_APPS_FIELDS, parseComputeApps } from '../../nvidia-smi/computeApps.ts';
import { classifySmiExit, spawnErrorMessage } from '../../nvidia-smi/failures.ts';

const log = createLogger('live');

export const DEFAULT_APPS_INTERVAL_MS = 1_000;

export interface ComputeAppsEvents {
  processes(processes: GpuProcess[], timestampMs: number, retiredPids: number[]): void;
  failed(message: string): void;
}

export interface ComputeAppsOptions {
  smiPath: string;
  intervalMs?: number;
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  now?: () => number;
}

/** Run one compute-apps query; rejects with a message that says what to do. */
export function queryComputeApps(options: ComputeAppsOptions): Promise<GpuProcess[]> {
  const args = [`--query-compute-apps=${COMPUTE_APPS_FIELDS.join(',')}`, '--format=csv,noheader,nounits'];
  return new Promise((resolve, reject) => {
    execFile(
      options.smiPath,
      args,
      { timeout: options.timeoutMs ?? 5_000, killSignal: 'SIGKILL', maxBuffer: 1024 * 1024, env: options.env ?? process.env, encoding: 'utf8' },
      (error, stdout, stderr) => {
        if (error) {
          const e = error as NodeJS.ErrnoException & { code?: number | string; signal?: string | null; killed?: boolean };
          if (typeof e.code === 'string') reject(new Error(spawnErrorMessage(options.smiPath, e.code)));
          else if (e.killed && e.signal === 'SIGKILL') reject(new Error(`nvidia-smi --query-compute-apps took over ${options.timeoutMs ?? 5000} ms and was stopped`));
          else reject(new Error(classifySmiExit(typeof e.code === 'number' ? e.code : null, e.signal ?? null, `${stdout}\n${stderr}`).message));
          return;
        }
        resolve(parseComputeApps(stdout));
      },
    );
  });
}

export class ComputeAppsPoller {
  readonly #options: ComputeAppsOptions;
  readonly #events: ComputeAppsEvents;
  readonly #now: () => number;
  readonly #intervalMs: number;
  readonly #loop: DeadlineLoop;
  #previousPids = new Set<number>();
  #failuresInRow = 0;

  constructor(options: ComputeAppsOptions, events: ComputeAppsEvents) {
    this.#options = options;
    this.#events = events;
    this.#now = options.now ?? Date.now;
    this.#intervalMs = options.intervalMs ?? DEFAULT_APPS_INTERVAL_MS;
    this.#loop = new DeadlineLoop({ name: 'compute-apps', intervalMs: this.#intervalMs, now: this.#now, run: () => this.#poll() });
  }

  start(): void {
    this.#loop.start();
  }

  stop(): Promise<void> {
    return this.#loop.stop();
  }

  async #poll(): Promise<void> {
    try {
      const processes = await queryComputeApps(this.#options);
      if (!this.#loop.running) return;
      const pids = new Set(processes.map((p) => p.pid));
      const retired = [...this.#previousPids].filter((pid) => !pids.has(pid));
      this.#previousPids = pids;
      this.#failuresInRow = 0;
      if (retired.length > 0) log.debug('processes left the GPU', { pids: retired });
      this.#events.processes(processes, this.#now(), retired);
    } catch (e) {
      if (!this.#loop.running) return;
      this.#failuresInRow++;
      const message = e instanceof Error ? e.message : String(e);
      if (this.#failuresInRow === 1 || this.#failuresInRow % 60 === 0) log.warn(`compute-apps query failed (${this.#failuresInRow} in a row): ${message}`);
      try {
        this.#events.failed(message);
      } catch (err) {
        log.error('compute-apps failure handler failed', { error: String(err) });
      }
    }
  }
}
