/**
 * The long-lived `nvidia-smi --query-gpu=<fields> --format=csv,noheader,nounits -lms <intervalMs>` child.
 * Rows are parsed as they arrive and grouped into ticks. A watchdog kills a child that prints no usable row
 * for 3 intervals (at least 1 s, and 5 s for the first row); a child that exits or cannot start is restarted
 * with backoff (0.5 s doubling to 30 s, reset by the next good row). A field the driver rejects
 * (`Field "memory.reserved" is not a valid field to query.`, exit 2) is dropped and the child restarted
 * at once without it. Nothing here throws out of a timer or an event handler.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { GpuSample } from '../../../shared/data.ts';
import { createLogger } from '../../log.ts';
import { classifySmiExit, firstLine, spawnErrorMessage } from '../../nvidia-smi/failures.ts';
import { parseQueryGpuRow, QUERY_GPU_FIELDS } from '../../nvidia-smi/queryGpu.ts';
import { TickAssembler } from '../../nvidia-smi/tickAssembler.ts';
import { lineBufferedCommand } from './command.ts';
import { backoffMs, LineSplitter, TailBuffer } from './lineSplitter.ts';

const log = createLogger('live');

/** Fields without which a row means nothing: never dropped. */
const ESSENTIAL_FIELDS: ReadonlySet<string> = new Set(['index', 'uuid']);
const FIRST_ROW_GRACE_MS = 5_000;
const MIN_WATCHDOG_MS = 1_000;
const KILL_GRACE_MS = 1_000;

export type StreamStatus = 'starting' | 'running' | 'stale' | 'error';

export interface GpuStreamEvents {
  tick(samples: GpuSample[]): void;
  status(status: StreamStatus, message: string | null): void;
  fieldDropped(field: string, message: string): void;
  /** A line nvidia-smi printed that is not a row but says something (`Unable to determine the device handle …`). */
  notice(line: string): void;
}

export interface GpuStreamOptions {
  smiPath: string;
  intervalMs: number;
  env?: NodeJS.ProcessEnv;
  fields?: readonly string[];
  now?: () => number;
}

export class GpuStream {
  readonly #options: GpuStreamOptions;
  readonly #events: GpuStreamEvents;
  readonly #now: () => number;
  #fields: string[];
  #child: ChildProcess | null = null;
  #childFields: string[] = [];
  #stopped = true;
  #failures = 0;
  #startedMs = 0;
  #lastRowMs: number | null = null;
  #garbageLines = 0;
  #lastGarbage: string | null = null;
  #killedFor: string | null = null;
  #restartTimer: NodeJS.Timeout | null = null;
  #watchdogTimer: NodeJS.Timeout | null = null;
  #quietTimer: NodeJS.Timeout | null = null;
  #assembler = new TickAssembler();
  #uuidByIndex = new Map<number, string>();
  #restarts = 0;
  #announced = false;

  constructor(options: GpuStreamOptions, events: GpuStreamEvents) {
    this.#options = options;
    this.#events = events;
    this.#now = options.now ?? Date.now;
    this.#fields = [...(options.fields ?? QUERY_GPU_FIELDS)];
  }

  get fields(): readonly string[] {
    return this.#fields;
  }

  /** Children started after the first (restarts), for tests and the closing log line. */
  get restarts(): number {
    return this.#restarts;
  }

  /** PID of the running child (its CPU time is part of what a sample costs). */
  get childPid(): number | null {
    return this.#child?.pid ?? null;
  }

  start(): void {
    this.#stopped = false;
    this.#spawn();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const t of [this.#restartTimer, this.#watchdogTimer, this.#quietTimer]) if (t) clearTimeout(t);
    this.#restartTimer = this.#watchdogTimer = this.#quietTimer = null;
    const child = this.#child;
    if (!child) return;
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        child.kill('SIGKILL');
        resolve(); // a child stuck in the driver may never close; do not wait for it
      }, KILL_GRACE_MS);
      child.once('close', () => {
        clearTimeout(force);
        resolve();
      });
      child.kill('SIGTERM');
    });
    this.#child = null;
  }

  #spawn(): void {
    if (this.#stopped) return;
    this.#childFields = [...this.#fields];
    const args = [`--query-gpu=${this.#childFields.join(',')}`, '--format=csv,noheader,nounits', '-lms', String(this.#options.intervalMs)];
    this.#startedMs = this.#now();
    this.#lastRowMs = null;
    this.#garbageLines = 0;
    this.#lastGarbage = null;
    this.#killedFor = null;
    this.#announced = false;
    this.#assembler.reset();
    const splitter = new LineSplitter();
    const tail = new TailBuffer();
    let child: ChildProcess;
    try {
      const env = this.#options.env ?? process.env;
      const [command, commandArgs] = lineBufferedCommand(this.#options.smiPath, args, env);
      child = spawn(command, commandArgs, { stdio: ['ignore', 'pipe', 'pipe'], env });
    } catch (e) {
      this.#failed(spawnErrorMessage(this.#options.smiPath, (e as NodeJS.ErrnoException).code), 'error');
      return;
    }
    this.#child = child;
    let settled = false;
    child.stdout?.setEncoding('utf8');
    child.stderr?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      if (this.#child !== child) return;
      for (const line of splitter.push(chunk)) this.#safe(() => this.#line(line, tail));
    });
    child.stderr?.on('data', (chunk: string) => {
      for (const line of chunk.split('\n')) tail.add(line);
    });
    child.on('error', (e: NodeJS.ErrnoException) => {
      if (settled) return;
      settled = true;
      if (this.#child !== child) return;
      this.#child = null;
      this.#failed(spawnErrorMessage(this.#options.smiPath, e.code), 'error');
    });
    child.on('close', (code, signal) => {
      if (settled) return;
      settled = true;
      this.#safe(() => this.#closed(child, code, signal, splitter, tail));
    });
    this.#armWatchdog();
  }

  #safe(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      log.error('nvidia-smi stream handler failed; continuing', { error: String(e) });
    }
  }

  #line(line: string, tail: TailBuffer): void {
    const r = parseQueryGpuRow(line, this.#childFields, {
      nowMs: this.#now(),
      uuidForIndex: (i) => this.#uuidByIndex.get(i) ?? null,
    });
    if (!r.ok) {
      if (line.trim() === '') return;
      tail.add(line);
      if (/unable to determine the device handle|gpu .*(fallen off|lost)/i.test(line)) {
        this.#events.notice(firstLine(line));
        return;
      }
      this.#garbageLines++;
      this.#lastGarbage = firstLine(line, 120);
      if (this.#garbageLines === 1 || this.#garbageLines % 100 === 0) log.warn(`unreadable nvidia-smi line (${r.reason})`, { line: this.#lastGarbage, count: this.#garbageLines });
      return;
    }
    const s = r.sample;
    if (s.health === 'ok') this.#uuidByIndex.set(s.index, s.uuid);
    if (this.#lastRowMs === null) this.#failures = 0;
    this.#lastRowMs = this.#now();
    for (const tick of this.#assembler.push(s)) this.#tick(tick);
    this.#armQuietFlush();
  }

  /** Hand a tick over; the first of each child also says the stream runs (so health never shows running without a sample). */
  #tick(tick: GpuSample[]): void {
    this.#events.tick(tick);
    if (!this.#announced) {
      this.#announced = true;
      this.#events.status('running', null);
    }
  }

  /** A tick shorter than the last one (a GPU fell off) is flushed after half an interval of quiet. */
  #armQuietFlush(): void {
    if (this.#quietTimer) clearTimeout(this.#quietTimer);
    if (this.#assembler.pending === 0) return;
    const wait = Math.max(10, Math.min(200, Math.floor(this.#options.intervalMs / 2)));
    this.#quietTimer = setTimeout(() => {
      this.#quietTimer = null;
      this.#safe(() => {
        const tick = this.#assembler.flush();
        if (tick) this.#tick(tick);
      });
    }, wait);
  }

  #watchdogLimitMs(): number {
    const steady = Math.max(3 * this.#options.intervalMs, MIN_WATCHDOG_MS);
    return this.#lastRowMs === null ? Math.max(steady, FIRST_ROW_GRACE_MS) : steady;
  }

  #armWatchdog(): void {
    if (this.#watchdogTimer) clearTimeout(this.#watchdogTimer);
    if (this.#stopped) return;
    const check = Math.max(50, Math.min(this.#options.intervalMs, 500));
    this.#watchdogTimer = setTimeout(() => {
      this.#watchdogTimer = null;
      this.#safe(() => this.#watch());
      if (this.#child && !this.#killedFor) this.#armWatchdog();
    }, check);
  }

  #watch(): void {
    const child = this.#child;
    if (!child || this.#killedFor) return;
    const since = this.#lastRowMs ?? this.#startedMs;
    const silentMs = this.#now() - since;
    if (silentMs < this.#watchdogLimitMs()) return;
    const seconds = (silentMs / 1000).toFixed(1);
    const why = this.#lastGarbage
      ? `only lines Headroom cannot read (last: "${this.#lastGarbage}")`
      : this.#lastRowMs === null
        ? 'nothing since it started'
        : 'nothing (nvidia-smi hangs)';
    this.#killedFor = `No GPU sample for ${seconds} s: nvidia-smi printed ${why}. Restarting it.`;
    log.warn(this.#killedFor);
    this.#events.status('stale', this.#killedFor);
    child.kill('SIGTERM');
    const force = setTimeout(() => {
      if (this.#child !== child) return;
      child.kill('SIGKILL');
      // Still no close after SIGKILL grace: stuck in the driver. Abandon it and start another.
      setTimeout(() => {
        if (this.#child !== child) return;
        child.removeAllListeners('close');
        child.unref();
        this.#child = null;
        this.#scheduleRestart(this.#killedFor ?? 'nvidia-smi hangs', 'stale');
      }, KILL_GRACE_MS).unref();
    }, KILL_GRACE_MS);
    force.unref();
  }

  #closed(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null, splitter: LineSplitter, tail: TailBuffer): void {
    if (this.#child !== child) return;
    this.#child = null;
    const rest = splitter.takeRest();
    if (rest.trim() !== '') log.warn('nvidia-smi ended mid-line; the partial row was dropped', { rest: firstLine(rest, 120) });
    const tick = this.#assembler.flush();
    if (tick) this.#events.tick(tick);
    if (this.#stopped) return;
    if (this.#killedFor) {
      this.#scheduleRestart(this.#killedFor, 'stale');
      return;
    }
    const failure = classifySmiExit(code, signal, tail.text());
    if (failure.kind === 'rejected-field' && failure.field) {
      const field = failure.field;
      const known = this.#fields.includes(field);
      if (known && !ESSENTIAL_FIELDS.has(field)) {
        this.#fields = this.#fields.filter((f) => f !== field);
        const message = `This driver does not know the field ${field}; Headroom queries without it (its values show as N/A).`;
        log.warn(message);
        this.#events.fieldDropped(field, message);
        this.#restarts++;
        this.#spawn();
        return;
      }
      this.#failed(`nvidia-smi rejects the field ${field}, which Headroom needs: this driver is too old or too new; update the NVIDIA driver. Retrying.`, 'error');
      return;
    }
    const status = failure.kind === 'crashed' || failure.kind === 'exited' ? 'stale' : 'error';
    this.#failed(failure.message, status);
  }

  #failed(message: string, status: 'stale' | 'error'): void {
    log.warn(message);
    this.#scheduleRestart(message, status);
  }

  #scheduleRestart(message: string, status: 'stale' | 'error'): void {
    if (this.#stopped) return;
    if (this.#watchdogTimer) clearTimeout(this.#watchdogTimer);
    this.#watchdogTimer = null;
    const delay = backoffMs(this.#failures++);
    this.#events.status(status, message.replace(/ (Retrying|Restarting it|restarting)\.?$/, '') + ` Retrying in ${(delay / 1000).toFixed(1)} s.`);
    if (this.#restartTimer) clearTimeout(this.#restartTimer);
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = null;
      this.#restarts++;
      this.#safe(() => this.#spawn());
    }, delay);
  }
}
