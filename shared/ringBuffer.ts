/** A fixed-capacity FIFO: pushing past capacity drops the oldest item. Used for every history buffer. */
export class RingBuffer<T> {
  readonly capacity: number;
  #items: (T | undefined)[];
  #start = 0;
  #length = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`RingBuffer capacity must be a positive integer, got ${capacity}`);
    }
    this.capacity = capacity;
    this.#items = new Array<T | undefined>(capacity);
  }

  get length(): number {
    return this.#length;
  }

  push(item: T): void {
    const end = (this.#start + this.#length) % this.capacity;
    this.#items[end] = item;
    if (this.#length < this.capacity) this.#length++;
    else this.#start = (this.#start + 1) % this.capacity;
  }

  /** The newest item, or undefined when empty. */
  last(): T | undefined {
    return this.#length === 0 ? undefined : this.#items[(this.#start + this.#length - 1) % this.capacity];
  }

  /** Items oldest first; `max` keeps only the newest `max`. */
  toArray(max = this.#length): T[] {
    const n = Math.min(max, this.#length);
    const out: T[] = new Array<T>(n);
    const skip = this.#length - n;
    for (let i = 0; i < n; i++) out[i] = this.#items[(this.#start + skip + i) % this.capacity] as T;
    return out;
  }

  clear(): void {
    this.#items = new Array<T | undefined>(this.capacity);
    this.#start = 0;
    this.#length = 0;
  }
}
