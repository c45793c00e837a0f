/**
 * Appends the live session to a recording (format v1, `format.ts`): one JSON line per data record, buffered
 * and flushed at least every second (every 500 ms here), so a killed agent loses under a second. An existing
 * recording is appended to (its header is kept; a partial last line left by a crash is cut off first); a file
 * that is not a Headroom recording is refused. The header waits for the first GPU sample, to name the GPUs.
 * The buffer is bounded: if the disk stalls, the oldest lines are dropped and counted.
 */
import { open, stat, type FileHandle } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename } from 'node:path';
import type { DataRecord } from '../../shared/data.ts';
import { createLogger } from '../log.ts';
import { RECORDING_FORMAT, RECORDING_VERSION, RecordingFormatError, RecordingHeaderSchema, serializeRecord, type RecordingHeader } from './format.ts';

const log = createLogger('record');

export const FLUSH_INTERVAL_MS = 500;
export const MAX_BUFFERED_LINES = 50_000;
/** Records before the first GPU sample wait at most this long for the header's GPU names. */
const HEADER_WAIT_MS = 5_000;

export interface RecordingWriterOptions {
  file: string;
  description?: string | null;
  flushIntervalMs?: number;
  maxBufferedLines?: number;
  now?: () => number;
}

/** Inspect an existing file: null when new or empty; else the byte length of its whole lines. Throws if foreign. */
async function existingLength(file: string): Promise<number | null> {
  let size: number;
  try {
    const s = await stat(file);
    if (!s.isFile()) throw new RecordingFormatError(`--record ${file}: not a regular file; pass a file path`);
    size = s.size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  if (size === 0) return null;
  const fh = await open(file, 'r');
  try {
    const head = Buffer.alloc(Math.min(size, 64 * 1024));
    await fh.read(head, 0, head.length, 0);
    const firstLine = head.toString('utf8').split('\n')[0] ?? '';
    let header: unknown;
    try {
      header = JSON.parse(firstLine);
    } catch {
      header = null;
    }
    if (!RecordingHeaderSchema.safeParse(header).success) {
      throw new RecordingFormatError(`--record ${file}: the file exists and is not a Headroom recording (format "${RECORDING_FORMAT}" version ${RECORDING_VERSION}); pass a new file name`);
    }
    // Cut a partial last line (a crash mid-write) so the next record starts on its own line.
    const tailLength = Math.min(size, 1024 * 1024);
    const tail = Buffer.alloc(tailLength);
    await fh.read(tail, 0, tailLength, size - tailLength);
    if (tail[tailLength - 1] === 0x0a) return size;
    const lastNewline = tail.lastIndexOf(0x0a);
    return lastNewline < 0 ? size : size - tailLength + lastNewline + 1;
  } finally {
    await fh.close();
  }
}

export class RecordingWriter {
  readonly file: string;
  readonly #options: RecordingWriterOptions;
  readonly #now: () => number;
  #handle: FileHandle;
  #needsHeader: boolean;
  #pending: string[] = [];
  #held: DataRecord[] = [];
  #heldSinceMs: number | null = null;
  #timer: NodeJS.Timeout | null = null;
  #writing: Promise<void> | null = null;
  #closed = false;
  droppedLines = 0;
  writtenRecords = 0;

  private constructor(file: string, handle: FileHandle, needsHeader: boolean, options: RecordingWriterOptions) {
    this.file = file;
    this.#handle = handle;
    this.#needsHeader = needsHeader;
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#schedule();
  }

  /** Open (or create) the recording. Throws RecordingFormatError for a file that is not a recording. */
  static async open(options: RecordingWriterOptions): Promise<RecordingWriter> {
    const length = await existingLength(options.file);
    let handle: FileHandle;
    try {
      handle = await open(options.file, length === null ? 'w' : 'r+');
      if (length !== null) await handle.truncate(length);
      if (length !== null) {
        await handle.close();
        handle = await open(options.file, 'a');
      }
    } catch (e) {
      throw new RecordingFormatError(`--record ${options.file}: cannot write (${(e as NodeJS.ErrnoException).code ?? String(e)}); pass a writable path`);
    }
    log.info(`${length === null ? 'recording to' : 'appending to the recording'} ${basename(options.file)}`);
    return new RecordingWriter(options.file, handle, length === null, options);
  }

  append(record: DataRecord): void {
    if (this.#closed) return;
    if (this.#needsHeader) {
      this.#held.push(record);
      this.#heldSinceMs ??= this.#now();
      if (record.kind === 'gpu') this.#writeHeader(record.gpus.map((g) => g.name ?? 'GPU'));
      else if (this.#held.length > 10_000) this.#held.shift();
      return;
    }
    this.#push(serializeRecord(record));
  }

  #writeHeader(gpuNames: string[]): void {
    const names = [...new Set(gpuNames)];
    const header: RecordingHeader = {
      kind: 'header',
      format: RECORDING_FORMAT,
      version: RECORDING_VERSION,
      createdAtMs: this.#heldSinceMs ?? this.#now(),
      description: this.#options.description ?? `Live session on ${hostname()}${names.length ? ` (${gpuNames.length} × ${names.join(' + ')})` : ''}`,
      origin: 'live',
      hostname: hostname(),
      gpuNames,
    };
    this.#needsHeader = false;
    this.#pending.unshift(serializeRecord(header));
    const held = this.#held;
    this.#held = [];
    for (const r of held) this.#push(serializeRecord(r));
  }

  #push(line: string): void {
    this.#pending.push(line);
    const max = this.#options.maxBufferedLines ?? MAX_BUFFERED_LINES;
    while (this.#pending.length > max) {
      this.#pending.splice(this.#needsHeader ? 0 : 1, 1); // never drop the header
      this.droppedLines++;
    }
  }

  #schedule(): void {
    if (this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      if (this.#needsHeader && this.#heldSinceMs !== null && this.#now() - this.#heldSinceMs > HEADER_WAIT_MS) this.#writeHeader([]);
      void this.flush().finally(() => this.#schedule());
    }, this.#options.flushIntervalMs ?? FLUSH_INTERVAL_MS);
    this.#timer.unref();
  }

  /** Write what is buffered; never rejects (a disk error is logged and the lines stay buffered). */
  async flush(): Promise<void> {
    while (this.#writing) await this.#writing;
    if (this.#pending.length === 0) return;
    const lines = this.#pending;
    this.#pending = [];
    this.#writing = (async () => {
      try {
        await this.#handle.appendFile(lines.join(''), 'utf8');
        this.writtenRecords += lines.length;
      } catch (e) {
        log.error(`cannot write the recording ${basename(this.file)}; keeping the lines in memory and retrying`, { error: String(e) });
        this.#pending = [...lines, ...this.#pending];
      }
    })();
    try {
      await this.#writing;
    } finally {
      this.#writing = null;
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    if (this.#needsHeader && this.#held.length > 0) this.#writeHeader([]);
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.flush();
    await this.#handle.close();
    if (this.droppedLines > 0) log.warn(`the recording lost ${this.droppedLines} lines while the disk did not keep up`);
  }
}
