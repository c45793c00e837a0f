/**
 * `--torch-log <path>` (repeatable): follows PyTorch memory logs and feeds their samples and events into
 * the hub. A path that is a folder is scanned for `*.jsonl`, `*.ndjson` and `*.log` files, new ones
 * included (read from their start); a path that does not exist yet is waited for. Malformed lines and
 * lines over 1 MiB are skipped and counted; the first few are logged with the reason. Never throws after
 * start: a failing file is logged and retried by its tail.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { DataRecord } from '../../shared/data.ts';
import { createLogger } from '../log.ts';
import { FileTail, type FileTailStats } from './fileTail.ts';
import { parseSidecarLine } from './sidecar.ts';

const log = createLogger('torch-log');

export const LOG_FILE_PATTERN = /\.(jsonl|ndjson|log)$/i;
/** Files followed at most per folder, so a folder of thousands of logs cannot exhaust descriptors. */
export const MAX_FILES_PER_DIR = 64;
const WARN_FIRST = 5;

export interface TorchLogSink {
  record(record: DataRecord): void;
}

export interface FileStats extends FileTailStats {
  path: string;
  malformedLines: number;
  records: number;
}

export interface TorchLogFollowerOptions {
  paths: readonly string[];
  fromStart: boolean;
  sink: TorchLogSink;
  pollMs?: number;
  maxLineBytes?: number;
}

export class TorchLogFollower {
  readonly #o: TorchLogFollowerOptions;
  readonly #tails = new Map<string, { tail: FileTail; malformed: number; records: number }>();
  #dirs: string[] = [];
  #dirTimer: NodeJS.Timeout | null = null;
  #stopped = false;

  constructor(options: TorchLogFollowerOptions) {
    this.#o = options;
  }

  async start(): Promise<void> {
    for (const path of this.#o.paths) {
      const st = await stat(path).catch(() => null);
      if (st?.isDirectory()) {
        this.#dirs.push(path);
        await this.#scan(path, true);
      } else {
        if (!st) log.info(`waiting for ${path} to appear`);
        await this.#follow(path, this.#o.fromStart);
      }
    }
    if (this.#dirs.length > 0) this.#scheduleScan();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#dirTimer) clearTimeout(this.#dirTimer);
    await Promise.all([...this.#tails.values()].map((t) => t.tail.stop()));
    this.#tails.clear();
  }

  stats(): FileStats[] {
    return [...this.#tails.entries()].map(([path, t]) => ({ path, ...t.tail.stats, malformedLines: t.malformed, records: t.records }));
  }

  /** Check every file now (tests and shutdown use it to flush what is written). */
  async checkNow(): Promise<void> {
    for (const dir of this.#dirs) await this.#scan(dir, false);
    await Promise.all([...this.#tails.values()].map((t) => t.tail.check()));
  }

  #scheduleScan(): void {
    if (this.#stopped) return;
    this.#dirTimer = setTimeout(() => {
      void Promise.all(this.#dirs.map((d) => this.#scan(d, false))).finally(() => this.#scheduleScan());
    }, this.#o.pollMs ?? 250);
    this.#dirTimer.unref();
  }

  async #scan(dir: string, initial: boolean): Promise<void> {
    let names: string[];
    try {
      names = (await readdir(dir)).filter((n) => LOG_FILE_PATTERN.test(n)).sort();
    } catch (e) {
      if (initial) log.warn(`cannot read the folder ${dir}: ${(e as Error).message}; retrying`);
      return;
    }
    const present = new Set(names.map((n) => join(dir, n)));
    for (const [path, t] of this.#tails) {
      if (path.startsWith(`${dir}/`) && !present.has(path) && !this.#o.paths.includes(path)) {
        this.#tails.delete(path); // the file is gone from the folder: stop following it
        await t.tail.stop();
      }
    }
    const inDir = [...this.#tails.keys()].filter((p) => p.startsWith(`${dir}/`)).length;
    let room = MAX_FILES_PER_DIR - inDir;
    for (const path of present) {
      if (this.#tails.has(path)) continue;
      if (room <= 0) {
        if (initial) log.warn(`${dir} holds more than ${MAX_FILES_PER_DIR} log files; following the first ${MAX_FILES_PER_DIR}`);
        break;
      }
      room--;
      await this.#follow(path, initial ? this.#o.fromStart : true);
    }
  }

  async #follow(path: string, fromStart: boolean): Promise<void> {
    if (this.#tails.has(path) || this.#stopped) return;
    const entry = { tail: null as unknown as FileTail, malformed: 0, records: 0 };
    entry.tail = new FileTail({
      path,
      fromStart,
      pollMs: this.#o.pollMs,
      maxLineBytes: this.#o.maxLineBytes,
      onLine: (text) => {
        const parsed = parseSidecarLine(text);
        if (!parsed.ok) {
          entry.malformed++;
          if (entry.malformed <= WARN_FIRST) log.warn(`${path}: skipped a line (${parsed.error}): ${text.slice(0, 120)}`);
          return;
        }
        const { sample, event } = parsed.value;
        if (sample) this.#emit(entry, { kind: 'torch', t: sample.timestampMs, sample });
        if (event) this.#emit(entry, { kind: 'torchEvent', t: event.timestampMs, event });
      },
      onOversize: () => {
        if (entry.tail.stats.oversizeLines <= WARN_FIRST) log.warn(`${path}: skipped a line over ${this.#o.maxLineBytes ?? 1024 * 1024} bytes`);
      },
      onChange: (change) => {
        if (change !== 'opened') log.info(`${path} was ${change}; following the new content`);
      },
      onError: (e) => {
        if (entry.tail.stats.errors <= WARN_FIRST) log.warn(`${path}: ${e.message}; retrying`);
      },
    });
    this.#tails.set(path, entry);
    await entry.tail.start();
  }

  #emit(entry: { records: number }, record: DataRecord): void {
    entry.records++;
    try {
      this.#o.sink.record(record);
    } catch (e) {
      log.error('the hub rejected a PyTorch record', { error: String(e) });
    }
  }
}
