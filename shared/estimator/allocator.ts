/**
 * A model of PyTorch's CUDA caching allocator (c10/cuda/CUDACachingAllocator.cpp, default settings):
 * - every request is rounded up to 512 B (kMinBlockSize);
 * - requests of at most 1 MiB (kSmallSize) come from 2 MiB segments (small pool), larger ones from the
 *   large pool: 1–10 MiB requests open a 20 MiB segment (kLargeBuffer), larger ones a segment rounded up
 *   to 2 MiB (kRoundLarge);
 * - a request takes the best-fitting cached free block of its pool (smallest size, then lowest address);
 *   the block is split when the remainder is ≥ 512 B (small) or > 1 MiB (large), else handed out whole;
 * - freed blocks merge with free neighbours of the same segment and stay cached (reserved) until
 *   empty_cache, so reserved grows when no cached block fits: that is the "slack" above the peak.
 * Stats follow the allocator: allocated counts the block handed out (a whole unsplit block included).
 */
const MIN_BLOCK = 512;
const SMALL_SIZE = 1 << 20;
const SMALL_BUFFER = 2 << 20;
const LARGE_BUFFER = 20 << 20;
const MIN_LARGE_ALLOC = 10 << 20;
const ROUND_LARGE = 2 << 20;

interface Block {
  addr: number;
  size: number;
  free: boolean;
  small: boolean;
  prev: Block | null;
  next: Block | null;
}

/** A live allocation; hand it back to free(). */
export type Handle = Block;

export function roundRequest(bytes: number): number {
  return bytes <= MIN_BLOCK ? MIN_BLOCK : Math.ceil(bytes / MIN_BLOCK) * MIN_BLOCK;
}

/** Size of the segment (cudaMalloc) the allocator opens for a request it cannot serve from cache. */
export function segmentSize(rounded: number): number {
  if (rounded <= SMALL_SIZE) return SMALL_BUFFER;
  if (rounded < MIN_LARGE_ALLOC) return LARGE_BUFFER;
  return Math.ceil(rounded / ROUND_LARGE) * ROUND_LARGE;
}

export class CachingAllocator {
  allocatedBytes = 0;
  peakAllocatedBytes = 0;
  reservedBytes = 0;
  private readonly freeLarge: Block[] = [];
  private readonly freeSmall: Block[] = [];
  private nextAddr = 0;
  private smallLive = 0;
  private smallReserved = 0;

  /** What the replay is doing (set by the caller); the phase of the peak is kept with it. */
  phase = '';
  peakPhase = '';

  private notePeak(): void {
    this.peakAllocatedBytes = this.allocatedBytes;
    this.peakPhase = this.phase;
  }

  /** Replay the small pool block by block too (off: small requests are counted, not placed). */
  constructor(private readonly trackSmall = false) {}

  /** Allocate `bytes` (0 allowed: PyTorch hands out no block, so nothing is counted). */
  malloc(bytes: number): Handle | null {
    if (bytes <= 0) return null;
    const size = roundRequest(bytes);
    const small = size <= SMALL_SIZE;
    if (small && !this.trackSmall) {
      // Small-pool requests are counted, not placed: 2 MiB segments are added as the live small bytes grow.
      this.allocatedBytes += size;
      if (this.allocatedBytes > this.peakAllocatedBytes) this.notePeak();
      this.smallLive += size;
      while (this.smallLive > this.smallReserved) {
        this.smallReserved += SMALL_BUFFER;
        this.reservedBytes += SMALL_BUFFER;
      }
      return { addr: -1, size, free: false, small, prev: null, next: null };
    }
    const pool = small ? this.freeSmall : this.freeLarge;
    let best = -1;
    let bestSize = Infinity;
    let bestAddr = Infinity;
    for (let i = 0; i < pool.length; i++) {
      const b = pool[i]!;
      const bs = b.size;
      if (bs < size || bs > bestSize || (bs === bestSize && b.addr > bestAddr)) continue;
      best = i;
      bestSize = bs;
      bestAddr = b.addr;
    }
    let block: Block;
    if (best >= 0) {
      block = pool[best]!;
      pool[best] = pool[pool.length - 1]!;
      pool.pop();
    } else {
      const seg = segmentSize(size);
      block = { addr: this.nextAddr, size: seg, free: true, small, prev: null, next: null };
      this.nextAddr += seg;
      this.reservedBytes += seg;
    }
    const remaining = block.size - size;
    if (small ? remaining >= MIN_BLOCK : remaining > SMALL_SIZE) {
      const rest: Block = { addr: block.addr + size, size: remaining, free: true, small, prev: block, next: block.next };
      if (block.next) block.next.prev = rest;
      block.next = rest;
      block.size = size;
      pool.push(rest);
    }
    block.free = false;
    this.allocatedBytes += block.size;
    if (this.allocatedBytes > this.peakAllocatedBytes) this.notePeak();
    return block;
  }

  /** Free bytes cached in the small pool (2 MiB segments). */
  smallFreeBytes(): number {
    let n = 0;
    for (const b of this.freeSmall) n += b.size;
    return n;
  }

  free(h: Handle | null): void {
    if (!h || h.free) return;
    this.allocatedBytes -= h.size;
    if (h.addr < 0) {
      h.free = true;
      this.smallLive -= h.size;
      return;
    }
    const pool = h.small ? this.freeSmall : this.freeLarge;
    let b = h;
    b.free = true;
    const prev = b.prev;
    if (prev && prev.free) {
      remove(pool, prev);
      prev.size += b.size;
      prev.next = b.next;
      if (b.next) b.next.prev = prev;
      b = prev;
    }
    const next = b.next;
    if (next && next.free) {
      remove(pool, next);
      b.size += next.size;
      b.next = next.next;
      if (next.next) next.next.prev = b;
    }
    pool.push(b);
  }

  /** Sizes of cached free large blocks, sorted: the state that decides future segment growth. */
  freeSignature(minUseful = 0): string {
    // Order-independent fingerprint of the cached block sizes (count, sum, sum of squares, min, max).
    let n = 0;
    let sum = 0;
    let sq = 0;
    let min = Infinity;
    let max = 0;
    for (const b of this.freeLarge) {
      const x = b.size;
      if (x < minUseful) continue;
      n++;
      sum += x;
      sq += (x / 1048576) * (x / 1048576);
      if (x < min) min = x;
      if (x > max) max = x;
    }
    return `${n}:${sum}:${sq}:${min}:${max}`;
  }

}

function remove(pool: Block[], b: Block): void {
  const i = pool.indexOf(b);
  if (i >= 0) {
    pool[i] = pool[pool.length - 1]!;
    pool.pop();
  }
}

/**
 * Reserved bytes of tensors allocated once and kept (weights), in model-construction order: the first
 * body tensor (embedding), every layer's tensors, then the rest (final norm, lm_head). Layers whose packing
 * repeats (same cached free blocks after the layer) are extrapolated instead of replayed.
 */
export function residentReservedBytes(layerTensors: readonly number[], layers: number, bodyTensors: readonly number[]): number {
  const sim = new CachingAllocator();
  // Small tensors (norms, biases) share 2 MiB segments; they never touch the large pool.
  let small = 0;
  const large: number[] = [];
  for (const t of layerTensors) {
    if (roundRequest(t) <= SMALL_SIZE) small += roundRequest(t) * layers;
    else large.push(t);
  }
  const [first, ...rest] = bodyTensors;
  const body = (t: number): void => {
    if (roundRequest(t) <= SMALL_SIZE) small += roundRequest(t);
    else sim.malloc(t);
  };
  if (first !== undefined) body(first);
  // Cached blocks smaller than every large tensor of a layer can never be used again: leave them out.
  let minLarge = Infinity;
  for (const t of large) minLarge = Math.min(minLarge, roundRequest(t));
  const seen = new Map<string, { layer: number; reserved: number }>();
  let extra = 0;
  for (let layer = 0; layer < layers; layer++) {
    for (const t of large) sim.malloc(t);
    if (extra > 0) continue;
    const sig = sim.freeSignature(minLarge);
    const prev = seen.get(sig);
    if (prev) {
      const period = layer - prev.layer;
      const periods = Math.floor((layers - 1 - layer) / period);
      extra = periods * (sim.reservedBytes - prev.reserved);
      layer += periods * period;
    } else seen.set(sig, { layer, reserved: sim.reservedBytes });
  }
  rest.forEach(body);
  return sim.reservedBytes + extra + Math.ceil(small / SMALL_BUFFER) * SMALL_BUFFER;
}
