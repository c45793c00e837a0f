/**
 * The alert log: one AlertEvent per line (JSON lines), appended in order, read back at start so active and
 * recent alerts survive a restart. Appends are queued and never throw into the agent; a failure is kept
 * (`error`) for the panel and the log, not swallowed. Past `maxBytes` the file is rotated to `<file>.1`.
 */
import { appendFile, mkdir, readFile, rename } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { AlertEventSchema, type AlertEvent } from '../../shared/alerts.ts';
import { createLogger } from '../log.ts';

const log = createLogger('alerts');

export const DEFAULT_LOG_MAX_BYTES = 16 * 1024 * 1024;

export interface LoadedLog {
  events: AlertEvent[];
  skippedLines: number;
}

/** Parse a log's text; lines that are not alert events (a partial last line after a crash) are skipped. */
export function parseAlertLog(text: string): LoadedLog {
  const events: AlertEvent[] = [];
  let skippedLines = 0;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const parsed = AlertEventSchema.safeParse(JSON.parse(line));
      if (parsed.success) events.push(parsed.data);
      else skippedLines++;
    } catch {
      skippedLines++;
    }
  }
  return { events, skippedLines };
}

export class AlertLog {
  readonly path: string;
  readonly maxBytes: number;
  error: string | null = null;
  #chain: Promise<void> = Promise.resolve();
  #size = 0;

  constructor(path: string, maxBytes = DEFAULT_LOG_MAX_BYTES) {
    this.path = path;
    this.maxBytes = maxBytes;
  }

  get fileName(): string {
    return basename(this.path);
  }

  /** Read the existing log (a missing file is an empty log). */
  async load(): Promise<LoadedLog> {
    try {
      await mkdir(dirname(this.path), { recursive: true });
      const text = await readFile(this.path, 'utf8');
      this.#size = Buffer.byteLength(text);
      const loaded = parseAlertLog(text);
      if (loaded.skippedLines > 0) log.warn(`alert log ${this.path}: skipped ${loaded.skippedLines} unreadable lines`);
      return loaded;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return { events: [], skippedLines: 0 };
      this.#fail(`cannot read the alert log ${this.path} (${code ?? String(e)})`);
      return { events: [], skippedLines: 0 };
    }
  }

  append(event: AlertEvent): void {
    const line = `${JSON.stringify(event)}\n`;
    this.#chain = this.#chain.then(async () => {
      try {
        if (this.#size + line.length > this.maxBytes) {
          await rename(this.path, `${this.path}.1`).catch(() => undefined);
          this.#size = 0;
        }
        await appendFile(this.path, line, 'utf8');
        this.#size += Buffer.byteLength(line);
        if (this.error) {
          log.info(`alert log ${this.path} writable again`);
          this.error = null;
        }
      } catch (e) {
        this.#fail(`cannot write the alert log ${this.path} (${(e as NodeJS.ErrnoException).code ?? String(e)}); alerts still reach the dashboard and webhooks`);
      }
    });
  }

  #fail(message: string): void {
    if (this.error !== message) log.error(message);
    this.error = message;
  }

  /** Resolves when every queued append has been written (or failed). */
  async flush(): Promise<void> {
    await this.#chain;
  }
}
