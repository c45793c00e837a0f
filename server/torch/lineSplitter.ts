/**
 * Splits a byte stream into text lines with bounded memory: at most `maxLineBytes` of a partial line are
 * held. A longer line is dropped whole (its remaining bytes skipped up to the next LF) and counted. CRLF
 * endings lose their CR; blank lines are ignored. Bytes are split on LF before decoding, so multi-byte
 * UTF-8 characters are never cut.
 */
export const DEFAULT_MAX_LINE_BYTES = 1024 * 1024;

export interface LineHandlers {
  line(text: string): void;
  oversize(): void;
}

export class LineSplitter {
  readonly maxLineBytes: number;
  readonly #on: LineHandlers;
  #parts: Buffer[] = [];
  #partBytes = 0;
  #skipping = false;

  constructor(handlers: LineHandlers, maxLineBytes = DEFAULT_MAX_LINE_BYTES) {
    this.#on = handlers;
    this.maxLineBytes = maxLineBytes;
  }

  /** Bytes of the partial last line held now (never above maxLineBytes). */
  get pendingBytes(): number {
    return this.#partBytes;
  }

  /** Feed bytes. The chunk may be reused by the caller afterwards: what is kept is copied. */
  push(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl === -1) {
        this.#hold(chunk.subarray(start));
        return;
      }
      const piece = chunk.subarray(start, nl);
      start = nl + 1;
      if (this.#skipping) {
        this.#skipping = false;
        continue;
      }
      if (this.#partBytes + piece.length > this.maxLineBytes) {
        this.#drop();
        this.#on.oversize();
        continue;
      }
      const bytes = this.#parts.length === 0 ? piece : Buffer.concat([...this.#parts, piece]);
      this.#drop();
      const end = bytes.length > 0 && bytes[bytes.length - 1] === 0x0d ? bytes.length - 1 : bytes.length;
      const text = bytes.toString('utf8', 0, end);
      if (text.trim() !== '') this.#on.line(text);
    }
  }

  /** Forget the partial line and any skip in progress (truncation, rotation). */
  reset(): void {
    this.#drop();
    this.#skipping = false;
  }

  #drop(): void {
    this.#parts = [];
    this.#partBytes = 0;
  }

  #hold(rest: Buffer): void {
    if (rest.length === 0 || this.#skipping) return;
    if (this.#partBytes + rest.length > this.maxLineBytes) {
      this.#drop();
      this.#skipping = true;
      this.#on.oversize();
      return;
    }
    this.#parts.push(Buffer.from(rest));
    this.#partBytes += rest.length;
  }
}
