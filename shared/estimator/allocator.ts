/**
 * A model of PyTorch's CUDA caching allocator (c10/cuda/CUDACachingAllocator.cpp, default settings):
 * - every request is rounded up to 512 B (kMinBlockSize);
 * - requests of at most 1 MiB (kSmallSize) come from 2 MiB segments (small pool), larger ones from the
 *   large pool: 1–10 MiB requests open a 20 MiB segment (kLargeBuffer), larger ones a segment rounded up
 *   to 2 MiB (kRoundLarge);
 * - a request takes the best-fitting cached free block of its pool (smallest size, then lowest address);
 *   the block is split when the remainder is ≥ 512 B (small) or > 1 MiB (large), else handed out whole;
 * - freed blocks merge with free neighbours of the same segment and stay cached (reserved) until
 *   empty_cache, so reserved grows when no cached block fits: that is the "slack" above the peak;
 * - addresses, which settle best-fit ties: the driver hands out the virtual addresses of new segments top
 *   down, so each segment opened is below the one before and below the weights' segments. Seen in the
 *   H200 allocator traces (test/fixtures/groundtruth/traces): every segment the prefill opened lay below the
 *   last, and the lower of two equal cached blocks is the newer one. With ascending addresses instead, the
 *   replay reuses the older of two equal blocks and misses eager attention's third 2 GiB fp32 segment.
 *   A process that has freed segments before (empty_cache) may get some of their address ranges back, out of
 *   that order: two StaticCache traces show it, and their allocations are reproduced exactly when the model is
 *   given the driver's addresses (`placeSegment`); top down is what a fresh process sees.
 * - when cudaMalloc would exceed the memory the allocator may use (`capacityBytes`), it first releases every
 *   cached segment that is entirely free (release_cached_blocks) and retries; still too big is an OOM, which
 *   the model records (`overCapacity`) and lets pass so the numbers say how much would have been needed.
 * Stats follow the allocator: allocated counts the block handed out (a whole unsplit block included).
 */
import { MIN_BLOCK, segmentSize, SMALL_BUFFER, SMALL_UNITS } from './allocatorRules.ts';
import { sizesKey } from './fingerprint.ts';

export { largeUnits, roundRequest, segmentSize, SMALL_BUFFER, SMALL_SIZE } from './allocatorRules.ts';

/** Sizes and addresses inside the model are in 512-byte units (kMinBlockSize). */
interface Block {
  addr: number;
  size: number;
  free: boolean;
  /** Position in the free pool while free (-1 otherwise); small-pool blocks are counted, not placed. */
  slot: number;
  prev: Block | null;
  next: Block | null;
}

/** A live allocation; hand it back to free(). */
export type Handle = Block;

const SMALL_ADDR = -1;
/** Seeded tails (the weights' segments) lie above this; segments opened here grow down from it. */
const TAIL_BASE = 2 ** 40;

export class CachingAllocator {
  /**
   * `placeSegment`: where the driver puts each new large-pool segment (its lowest address in 512-byte units, below
   * 2^40), given its size in those units; default top down. Tests pass the addresses a recorded trace shows.
   */
  constructor(private readonly placeSegment: ((units: number) => number) | null = null) {}

  allocatedBytes = 0;
  peakAllocatedBytes = 0;
  reservedBytes = 0;
  /** What the replay is doing (set by the caller); the phase of the peak is kept with it. */
  phase = '';
  peakPhase = '';

  /** Cached free blocks of the large pool, with their sizes and addresses in parallel arrays for the scan. */
  private readonly pool: Block[] = [];
  private readonly sizes: number[] = [];
  private readonly addrs: number[] = [];
  /** The next segment opened ends here (top-down, below every earlier one). */
  private nextAddr = TAIL_BASE;
  /** Seeded tails not used yet, sorted by size; one taken is placed above TAIL_BASE. */
  private readonly tailSizes: number[] = [];
  private tailAddr = TAIL_BASE;
  private smallLive = 0;
  private smallReserved = 0;
  /** Bytes this allocator may reserve (device memory left for it); Infinity: unbounded. */
  capacityBytes = Infinity;
  /** A request could not be met within capacityBytes even after releasing the cached segments: an OOM. */
  overCapacity = false;

  private notePeak(): void {
    this.peakAllocatedBytes = this.allocatedBytes;
    this.peakPhase = this.phase;
  }

  private push(b: Block): void {
    b.slot = this.pool.length;
    this.pool.push(b);
    this.sizes.push(b.size);
    this.addrs.push(b.addr);
  }

  private take(b: Block): void {
    const i = b.slot;
    const last = this.pool.length - 1;
    if (i !== last) {
      const moved = this.pool[last]!;
      this.pool[i] = moved;
      this.sizes[i] = this.sizes[last]!;
      this.addrs[i] = this.addrs[last]!;
      moved.slot = i;
    }
    this.pool.pop();
    this.sizes.pop();
    this.addrs.pop();
    b.slot = -1;
  }

  /** Best fit, as BlockComparatorSize orders the pool: the smallest cached block ≥ size, lowest address first. */
  private bestFit(size: number): number {
    const sizes = this.sizes;
    let best = -1;
    let bestSize = Infinity;
    for (let i = 0; i < sizes.length; i++) {
      const bs = sizes[i]!;
      if (bs < size || bs > bestSize) continue;
      if (bs === bestSize && this.addrs[i]! > this.addrs[best]!) continue;
      best = i;
      bestSize = bs;
    }
    return best;
  }

  /** Allocate `bytes` (0 allowed: PyTorch hands out no block, so nothing is counted). */
  malloc(bytes: number): Handle | null {
    if (bytes <= 0) return null;
    const size = bytes <= MIN_BLOCK ? 1 : Math.ceil(bytes / MIN_BLOCK);
    if (size <= SMALL_UNITS) {
      // Small-pool requests are counted, not placed: 2 MiB segments are added as the live small bytes grow.
      this.allocatedBytes += size * MIN_BLOCK;
      if (this.allocatedBytes > this.peakAllocatedBytes) this.notePeak();
      this.smallLive += size;
      while (this.smallLive > this.smallReserved) {
        this.openSegment(SMALL_BUFFER);
        this.smallReserved += SMALL_BUFFER / MIN_BLOCK;
      }
      return { addr: SMALL_ADDR, size, free: false, slot: -1, prev: null, next: null };
    }
    const best = this.bestFit(size);
    let block: Block;
    const tail = this.bestTail(size);
    if (tail >= 0 && (best < 0 || this.tailSizes[tail]! < this.sizes[best]! || (this.tailSizes[tail] === this.sizes[best] && this.addrs[best]! > TAIL_BASE))) {
      // A seeded tail: above every segment opened here, so a cached block of its size there wins the tie.
      const tsize = this.tailSizes[tail]!;
      this.tailSizes.splice(tail, 1);
      block = { addr: this.tailAddr, size: tsize, free: true, slot: -1, prev: null, next: null };
      this.tailAddr += tsize;
    } else if (best >= 0) {
      block = this.pool[best]!;
      this.take(block);
    } else {
      const seg = segmentSize(size * MIN_BLOCK) / MIN_BLOCK;
      this.openSegment(seg * MIN_BLOCK);
      this.nextAddr = this.placeSegment ? this.placeSegment(seg) : this.nextAddr - seg;
      block = { addr: this.nextAddr, size: seg, free: true, slot: -1, prev: null, next: null };
    }
    const remaining = block.size - size;
    if (remaining > SMALL_UNITS) {
      const rest: Block = { addr: block.addr + size, size: remaining, free: true, slot: -1, prev: block, next: block.next };
      if (block.next) block.next.prev = rest;
      block.next = rest;
      block.size = size;
      this.push(rest);
    }
    block.free = false;
    this.allocatedBytes += block.size * MIN_BLOCK;
    if (this.allocatedBytes > this.peakAllocatedBytes) this.notePeak();
    return block;
  }

  /** cudaMalloc of a segment: over capacity, release the cached free segments first (the request's own pool too). */
  private openSegment(bytes: number): void {
    if (this.reservedBytes + bytes > this.capacityBytes) {
      this.releaseCached();
      if (this.reservedBytes + bytes > this.capacityBytes) this.overCapacity = true;
    }
    this.reservedBytes += bytes;
  }

  /** release_cached_blocks: every segment opened here that is entirely free goes back to the driver. */
  private releaseCached(): void {
    for (let i = this.pool.length - 1; i >= 0; i--) {
      const b = this.pool[i]!;
      if (b.prev !== null || b.next !== null || b.addr >= TAIL_BASE) continue;
      this.take(b);
      this.reservedBytes -= b.size * MIN_BLOCK;
    }
    const units = SMALL_BUFFER / MIN_BLOCK;
    const keep = Math.ceil(this.smallLive / units) * units; // free small segments (fragmentation not modelled)
    this.reservedBytes -= (this.smallReserved - keep) * MIN_BLOCK;
    this.smallReserved = keep;
  }

  free(h: Handle | null): void {
    if (!h || h.free) return;
    this.allocatedBytes -= h.size * MIN_BLOCK;
    h.free = true;
    if (h.addr === SMALL_ADDR) {
      this.smallLive -= h.size;
      return;
    }
    let b = h;
    const prev = b.prev;
    if (prev && prev.free) {
      this.take(prev);
      prev.size += b.size;
      prev.next = b.next;
      if (b.next) b.next.prev = prev;
      b = prev;
    }
    const next = b.next;
    if (next && next.free) {
      this.take(next);
      b.size += next.size;
      b.next = next.next;
      if (next.next) next.next.prev = b;
    }
    this.push(b);
  }

  /** Sizes in bytes of the cached large blocks (those below `belowBytes` only, if given), in pool order. */
  freeList(belowBytes = Infinity): number[] {
    const out: number[] = [];
    for (const x of this.sizes) if (x * MIN_BLOCK < belowBytes) out.push(x * MIN_BLOCK);
    return out;
  }

  /**
   * Cached free blocks that already exist (reserved earlier: the tails of the weights' segments, walled in by
   * weights). Kept apart in a sorted list (often dozens of equal tails) until one is used.
   */
  seedFree(blocks: readonly number[]): void {
    for (const bytes of blocks) this.tailSizes.push(Math.floor(bytes / MIN_BLOCK));
    this.tailSizes.sort((x, y) => x - y);
  }

  /** Index of the smallest seeded tail of at least `size` units, or -1. */
  private bestTail(size: number): number {
    const t = this.tailSizes;
    if (t.length === 0 || t[t.length - 1]! < size) return -1;
    let lo = 0;
    let hi = t.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (t[mid]! < size) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Fingerprint of the multiset of cached large blocks of at least `minUseful` bytes. */
  freeSizesKey(minUseful = 0): number {
    return sizesKey(this.sizes, this.sizes.length, minUseful / MIN_BLOCK);
  }
}
