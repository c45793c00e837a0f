/**
 * Follows one file like `tail -F`: reads what is appended, keeps a partial last line until its LF arrives,
 * and survives rotation (rename + new file: the old file is read to its end, then the new one from 0),
 * truncation (size below the read offset: read again from 0), deletion and re-creation. Starts at the end of
 * an existing file unless `fromStart`; a file that appears later is read from its start. Memory is bounded:
 * one read buffer and at most one partial line (see LineSplitter).
 *
 * A check runs on every `fs.watch` notice for the file's folder and at least every `pollMs` (a chained
 * timer: notices are not reliable on every file system). Checks never overlap and never throw.
 */
import { watch, type FSWatcher } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { DEFAULT_MAX_LINE_BYTES, LineSplitter } from './lineSplitter.ts';

export interface FileTailStats {
  lines: number;
  oversizeLines: number;
  bytesRead: number;
  rotations: number;
  truncations: number;
  deletions: number;
  /** Partial last lines dropped when the file was rotated, truncated or deleted before their LF. */
  droppedPartialLines: number;
  errors: number;
}

export type FileTailChange = 'opened' | 'rotated' | 'truncated' | 'deleted';

export interface FileTailOptions {
  path: string;
  /** Read existing content on the first open (default: start at the end). */
  fromStart: boolean;
  onLine(text: string): void;
  onOversize?(): void;
  onChange?(change: FileTailChange): void;
  onError?(error: Error): void;
  pollMs?: number;
  maxLineBytes?: number;
  readChunkBytes?: number;
}

interface Open {
  handle: FileHandle;
  ino: number;
  dev: number;
  offset: number;
}

export class FileTail {
  readonly path: string;
  readonly stats: FileTailStats = { lines: 0, oversizeLines: 0, bytesRead: 0, rotations: 0, truncations: 0, deletions: 0, droppedPartialLines: 0, errors: 0 };
  readonly #o: FileTailOptions;
  readonly #splitter: LineSplitter;
  readonly #buffer: Buffer;
  #file: Open | null = null;
  /** True during the first check only: a file present then starts at its end (unless fromStart). */
  #firstCheck = true;
  #timer: NodeJS.Timeout | null = null;
  #watcher: FSWatcher | null = null;
  #running: Promise<void> | null = null;
  #again = false;
  #stopped = false;

  constructor(options: FileTailOptions) {
    this.#o = options;
    this.path = options.path;
    this.#buffer = Buffer.allocUnsafe(options.readChunkBytes ?? 64 * 1024);
    this.#splitter = new LineSplitter(
      {
        line: (text) => {
          this.stats.lines++;
          this.#o.onLine(text);
        },
        oversize: () => {
          this.stats.oversizeLines++;
          this.#o.onOversize?.();
        },
      },
      options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES,
    );
  }

  /** Open (or wait for) the file and start following it; resolves after the first check. */
  async start(): Promise<void> {
    try {
      this.#watcher = watch(dirname(this.path), { persistent: false }, (_type, name) => {
        if (name === null || name === basename(this.path)) this.check();
      });
      this.#watcher.on('error', () => this.#closeWatcher());
    } catch {
      this.#watcher = null; // folder missing or not watchable: the poll covers it
    }
    await this.check();
    this.#firstCheck = false;
    this.#schedule();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#closeWatcher();
    await this.#running?.catch(() => undefined);
    await this.#close();
  }

  /** Run a check now (or right after the one in progress). */
  check(): Promise<void> {
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    this.#running = (async () => {
      do {
        this.#again = false;
        try {
          await this.#checkOnce();
        } catch (e) {
          this.stats.errors++;
          this.#o.onError?.(e as Error);
        }
      } while (this.#again && !this.#stopped);
    })().finally(() => {
      this.#running = null;
    });
    return this.#running;
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      void this.check().finally(() => this.#schedule());
    }, this.#o.pollMs ?? 250);
    this.#timer.unref();
  }

  async #checkOnce(): Promise<void> {
    if (this.#stopped) return;
    const st = await stat(this.path, { bigint: false }).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT' || e.code === 'ENOTDIR') return null;
      throw e;
    });
    const file = this.#file;
    if (file) {
      if (st === null || st.ino !== file.ino || st.dev !== file.dev) {
        await this.#readToEnd(file); // a renamed or deleted file may still hold unread lines
        this.#dropPartial();
        await this.#close();
        if (st === null) this.stats.deletions++;
        else this.stats.rotations++;
        this.#o.onChange?.(st === null ? 'deleted' : 'rotated');
      } else if (st.size < file.offset) {
        this.#dropPartial();
        file.offset = 0;
        this.stats.truncations++;
        this.#o.onChange?.('truncated');
      }
    }
    if (!this.#file && st && st.isFile()) {
      const handle = await open(this.path, 'r');
      const fst = await handle.stat();
      const offset = this.#firstCheck && !this.#o.fromStart ? fst.size : 0;
      this.#file = { handle, ino: fst.ino, dev: fst.dev, offset };
      this.#o.onChange?.('opened');
    }
    if (this.#file) await this.#readToEnd(this.#file);
  }

  async #readToEnd(file: Open): Promise<void> {
    for (;;) {
      if (this.#stopped) return;
      const { bytesRead } = await file.handle.read(this.#buffer, 0, this.#buffer.length, file.offset);
      if (bytesRead === 0) return;
      file.offset += bytesRead;
      this.stats.bytesRead += bytesRead;
      this.#splitter.push(this.#buffer.subarray(0, bytesRead));
    }
  }

  #dropPartial(): void {
    if (this.#splitter.pendingBytes > 0) this.stats.droppedPartialLines++;
    this.#splitter.reset();
  }

  async #close(): Promise<void> {
    const file = this.#file;
    this.#file = null;
    await file?.handle.close().catch(() => undefined);
  }

  #closeWatcher(): void {
    this.#watcher?.close();
    this.#watcher = null;
  }
}
