/**
 * `--torch-trace-dir <dir>`: watches a `tensorboard_trace_handler` folder (and its run sub-folders, one
 * level down) for profiler traces (`*.pt.trace.json`, `*.pt.trace.json.gz`) and `export_memory_timeline`
 * plot JSON (`*memory_timeline*.json[.gz]`), parses each once, and feeds the hub: memory points as torch
 * samples, `[OutOfMemory]` as `oom` events, a `profiler_trace` / `memory_timeline` marker per file.
 *
 * A plain `.json` trace appears whole (kineto writes a temp file and renames it); a `.gz` grows in place, so
 * a file is parsed only once its size and mtime have been stable for `stableMs`; a `.gz` that still fails
 * to decompress is retried a few times. Files present at start are imported only with `--from-start`.
 * One file is parsed at a time; the poll is a chained timer; nothing here throws after start.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { DataRecord, TorchEvent } from '../../shared/data.ts';
import { createLogger } from '../log.ts';
import { downsampleTimeline, readMemoryTimeline, TIMELINE_CATEGORIES } from './memoryTimeline.ts';
import { parseTraceFile, traceToRecords } from './trace.ts';

const log = createLogger('torch-trace');

export const TRACE_FILE = /\.pt\.trace\.json(\.gz)?$/;
export const TIMELINE_FILE = /memory_timeline(?!.*\.raw\.json).*\.json(\.gz)?$/;
const MAX_TRIES = 5;
/** Files remembered at most (oldest forgotten first), so a long-lived folder cannot grow memory. */
const MAX_KNOWN = 5000;

interface Known {
  size: number;
  mtimeMs: number;
  since: number;
  tries: number;
  done: boolean;
}

export interface TraceWatcherOptions {
  dir: string;
  fromStart: boolean;
  sink: { record(r: DataRecord): void };
  pollMs?: number;
  stableMs?: number;
  now?: () => number;
}

export interface TraceWatcherStats {
  imported: string[];
  failed: string[];
}

export class TraceWatcher {
  readonly stats: TraceWatcherStats = { imported: [], failed: [] };
  readonly #o: TraceWatcherOptions;
  readonly #known = new Map<string, Known>();
  readonly #now: () => number;
  #timer: NodeJS.Timeout | null = null;
  #stopped = false;
  #running: Promise<void> | null = null;
  /** pid of the newest trace imported: memory timelines carry none, they come from the same run. */
  #lastPid: number | null = null;

  constructor(options: TraceWatcherOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  async start(): Promise<void> {
    const initial = await this.#list();
    const t = this.#now();
    for (const [path, st] of initial) {
      // Present at start: skipped, or (--from-start) taken as stable; one still growing fails and is retried.
      this.#known.set(path, { size: st.size, mtimeMs: st.mtimeMs, since: this.#o.fromStart ? -Infinity : t, tries: 0, done: !this.#o.fromStart });
    }
    await this.scan();
    this.#schedule();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#running?.catch(() => undefined);
  }

  /** One pass: notice new files, parse the stable ones. */
  scan(): Promise<void> {
    this.#running ??= this.#scanOnce()
      .catch((e: unknown) => log.warn(`cannot scan ${this.#o.dir}: ${(e as Error).message}; retrying`))
      .finally(() => {
        this.#running = null;
      });
    return this.#running;
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => void this.scan().finally(() => this.#schedule()), this.#o.pollMs ?? 1000);
    this.#timer.unref();
  }

  async #list(): Promise<Map<string, { size: number; mtimeMs: number }>> {
    const out = new Map<string, { size: number; mtimeMs: number }>();
    const visit = async (dir: string, depth: number): Promise<void> => {
      const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
      for (const e of entries) {
        const path = join(dir, e.name);
        if (e.isDirectory() && depth === 0) await visit(path, 1);
        else if (e.isFile() && (TRACE_FILE.test(e.name) || TIMELINE_FILE.test(e.name))) {
          const st = await stat(path).catch(() => null);
          if (st) out.set(path, { size: st.size, mtimeMs: st.mtimeMs });
        }
      }
    };
    await visit(this.#o.dir, 0);
    return out;
  }

  async #scanOnce(): Promise<void> {
    const now = this.#now();
    const files = await this.#list();
    for (const [path, st] of files) {
      const k = this.#known.get(path);
      if (!k || k.size !== st.size || k.mtimeMs !== st.mtimeMs) {
        this.#known.set(path, { size: st.size, mtimeMs: st.mtimeMs, since: now, tries: k?.tries ?? 0, done: false });
      }
    }
    for (const path of this.#known.keys()) if (!files.has(path)) this.#known.delete(path);
    while (this.#known.size > MAX_KNOWN) this.#known.delete(this.#known.keys().next().value!);
    const ready = [...this.#known.entries()]
      .filter(([path, k]) => !k.done && k.size > 0 && (path.endsWith('.json') ? true : now - k.since >= (this.#o.stableMs ?? 2000)))
      .sort(([a], [b]) => (TIMELINE_FILE.test(a) ? 1 : 0) - (TIMELINE_FILE.test(b) ? 1 : 0) || a.localeCompare(b));
    for (const [path, k] of ready) {
      if (this.#stopped) return;
      await this.#import(path, k);
    }
  }

  async #import(path: string, k: Known): Promise<void> {
    try {
      const records = TIMELINE_FILE.test(path) ? await this.#timelineRecords(path) : await this.#traceRecords(path);
      k.done = true;
      for (const r of records) this.#o.sink.record(r);
      this.stats.imported.push(path);
      log.info(`imported ${path}: ${records.length} records`);
    } catch (e) {
      k.tries++;
      k.since = this.#now();
      if (k.tries >= MAX_TRIES) {
        k.done = true;
        this.stats.failed.push(path);
        log.warn(`cannot read ${path}: ${(e as Error).message}; giving up on this file`);
      }
    }
  }

  async #traceRecords(path: string): Promise<DataRecord[]> {
    const trace = await parseTraceFile(path);
    const records = traceToRecords(trace);
    const pid = trace.points[0]?.pid ?? trace.ooms[0]?.pid;
    if (pid !== undefined) this.#lastPid = pid;
    return records;
  }

  async #timelineRecords(path: string): Promise<DataRecord[]> {
    const tl = await readMemoryTimeline(path);
    if (this.#lastPid === null) {
      log.warn(`${path}: a memory timeline names no process; it is shown once a trace of the same run is imported`);
      throw new Error('no trace of the same run yet');
    }
    const first = tl.points[0];
    if (!first) return [];
    const event: TorchEvent = {
      timestampMs: Math.round(first.timestampMs),
      pid: this.#lastPid,
      device: null,
      kind: 'memory_timeline',
      name: tl.fileName,
      message: null,
      facts: {
        file: tl.fileName,
        categories: [...TIMELINE_CATEGORIES],
        peak_by_category: tl.peakByCategory,
        peak_total_bytes: tl.peakTotalBytes,
        points: downsampleTimeline(tl.points, 500).map((p) => [Math.round(p.timestampMs), ...p.bytes]),
      },
    };
    return [{ kind: 'torchEvent', t: event.timestampMs, event }];
  }
}
