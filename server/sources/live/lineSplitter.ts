/** Splits a child's stdout into lines, bounded: a line longer than `maxLineChars` is dropped and counted. */
export class LineSplitter {
  #buffer = '';
  #dropping = false;
  overlongLines = 0;

  constructor(readonly maxLineChars = 64 * 1024) {}

  push(chunk: string): string[] {
    const parts = (this.#buffer + chunk).split('\n');
    this.#buffer = parts.pop() ?? '';
    const lines: string[] = [];
    for (const part of parts) {
      if (this.#dropping) {
        this.#dropping = false; // the end of an overlong line
        continue;
      }
      lines.push(part.replace(/\r$/, ''));
    }
    if (this.#buffer.length > this.maxLineChars) {
      this.#buffer = '';
      if (!this.#dropping) this.overlongLines++;
      this.#dropping = true;
    }
    return lines;
  }

  /** The unterminated rest (a child that died mid-line leaves one); clears it. */
  takeRest(): string {
    const rest = this.#dropping ? '' : this.#buffer;
    this.#buffer = '';
    this.#dropping = false;
    return rest;
  }
}

/** Keeps the last few lines of a child's output for error messages. */
export class TailBuffer {
  #lines: string[] = [];

  constructor(readonly maxLines = 20, readonly maxLineChars = 500) {}

  add(line: string): void {
    if (line.trim() === '') return;
    this.#lines.push(line.length > this.maxLineChars ? line.slice(0, this.maxLineChars) : line);
    if (this.#lines.length > this.maxLines) this.#lines.shift();
  }

  text(): string {
    return this.#lines.join('\n');
  }

  clear(): void {
    this.#lines = [];
  }
}

/** Restart delay after the n-th failure in a row (0-based): 0.5 s, 1 s, 2 s … up to 30 s. */
export function backoffMs(failures: number, initialMs = 500, maxMs = 30_000): number {
  return Math.min(maxMs, initialMs * 2 ** Math.max(0, Math.min(failures, 16)));
}
