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
import { orderedPoolKey, SEGMENT_BASE, sizesKey, walled, wallMix1, wallMix2 } from './fingerprint.ts';
import { MIN_BLOCK, segmentSize, SMALL_BUFFER, SMALL_UNITS } from './allocatorRules.ts';

export { largeUnits, roundRequest, segmentSize, SMALL_BUFFER, SMALL_SIZE } from './allocatorRules.ts';

/** Sizes and addresses inside the model are in 512-byte units (kMinBlockSize), small integers for V8. */
interface Block {
  addr: number;
  size: number;
  free: boolean;
  /** Never freed (KV copies, input ids): a free neighbour walled in by pinned blocks can never merge. */
  perm: boolean;
  /** Position in the free pool while free (-1 otherwise); small-pool blocks are counted, not placed. */
  slot: number;
  prev: Block | null;
  next: Block | null;
}

/** A live allocation; hand it back to free(). */
export type Handle = Block;

const SMALL_ADDR = -1;
export class CachingAllocator {
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
  private nextAddr = SEGMENT_BASE; // segments opened here lie above the seeded tails (addresses in 512-byte units)
  private readonly tailSizes: number[] = [];
  private tailHash1 = 0;
  private tailHash2 = 0;
  private tailAddr = 0;
  private smallLive = 0;
  private smallReserved = 0;
  /** Smallest large-pool request seen (512-byte units). */
  minLargeRequest = Infinity;
  /** Best-fit ties that addresses stateHash does not see settled (see noteTie). */
  ties = 0;
  private lowTie = false;
  /** Neighbour links among blocks below SEGMENT_BASE (0: every one stands alone, walled in). */
  private lowLinks = 0;
  /** Highest allocated since the caller last set it (at most peakAllocatedBytes: set both together), and its phase. */
  windowPeakBytes = 0;
  windowPeakPhase = '';

  private notePeak(): void {
    if (this.allocatedBytes > this.windowPeakBytes) {
      this.windowPeakBytes = this.allocatedBytes;
      this.windowPeakPhase = this.phase;
    }
    if (this.allocatedBytes <= this.peakAllocatedBytes) return;
    this.peakAllocatedBytes = this.allocatedBytes;
    this.peakPhase = this.phase;
  }

  /**
   * Best fit found two cached blocks of the chosen size below SEGMENT_BASE (pieces of seeded tails, whose
   * addresses do not follow the order stateHash records): lowest address wins. Harmless when all of those are
   * walled in (interchangeable); otherwise counted, and the replay refuses a skip across it. Ties among blocks in
   * opened segments are settled the same way in equal states (stateHash hashes them in address order).
   */
  private noteTie(size: number): void {
    const sizes = this.sizes;
    const addrs = this.addrs;
    for (let i = 0; i < sizes.length; i++) {
      if (sizes[i] === size && addrs[i]! < SEGMENT_BASE && !walled(this.pool[i]!)) {
        this.ties++;
        return;
      }
    }
  }

  private push(b: Block): void {
    b.slot = this.pool.length;
    this.pool.push(b);
    this.sizes.push(b.size);
    this.addrs.push(b.addr);
  }

  private take(b: Block): void {
    const i = b.slot;
    if (i < 0) return; // a hidden dead block (hideDead)
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
    const addrs = this.addrs;
    let best = -1;
    let bestSize = Infinity;
    let bestAddr = Infinity;
    let lowTie = false; // two candidates of the best size below SEGMENT_BASE (see noteTie)
    for (let i = 0; i < sizes.length; i++) {
      const bs = sizes[i]!;
      if (bs < size || bs > bestSize) continue;
      if (bs === bestSize) {
        if (addrs[i]! < SEGMENT_BASE && bestAddr < SEGMENT_BASE) lowTie = true;
        if (addrs[i]! > bestAddr) continue;
      } else lowTie = false;
      best = i;
      bestSize = bs;
      bestAddr = addrs[i]!;
    }
    this.lowTie = lowTie;
    return best;
  }

  /** Allocate `bytes` (0 allowed: PyTorch hands out no block, so nothing is counted). */
  malloc(bytes: number): Handle | null {
    if (bytes <= 0) return null;
    const size = bytes <= MIN_BLOCK ? 1 : Math.ceil(bytes / MIN_BLOCK);
    if (size <= SMALL_UNITS) {
      // Small-pool requests are counted, not placed: 2 MiB segments are added as the live small bytes grow.
      this.allocatedBytes += size * MIN_BLOCK;
      if (this.allocatedBytes > this.windowPeakBytes) this.notePeak();
      this.smallLive += size;
      while (this.smallLive > this.smallReserved) {
        this.smallReserved += SMALL_BUFFER / MIN_BLOCK;
        this.reservedBytes += SMALL_BUFFER;
      }
      return { addr: SMALL_ADDR, size, free: false, perm: false, slot: -1, prev: null, next: null };
    }
    if (size < this.minLargeRequest) this.minLargeRequest = size;
    const best = this.bestFit(size);
    let block: Block;
    const tail = this.bestTail(size);
    if (tail >= 0 && (best < 0 || this.tailSizes[tail]! <= this.sizes[best]!)) {
      // A seeded tail: lower address than any segment opened here, so it wins ties too.
      const tsize = this.tailSizes[tail]!;
      this.tailSizes.splice(tail, 1);
      this.hashTail(tsize, -1);
      block = { addr: this.tailAddr++, size: tsize, free: true, perm: false, slot: -1, prev: null, next: null };
    } else if (best >= 0) {
      if (this.lowTie && this.lowLinks > 0) this.noteTie(this.sizes[best]!);
      block = this.pool[best]!;
      this.take(block);
    } else {
      const seg = segmentSize(size * MIN_BLOCK) / MIN_BLOCK;
      block = { addr: this.nextAddr, size: seg, free: true, perm: false, slot: -1, prev: null, next: null };
      this.nextAddr += seg;
      this.reservedBytes += seg * MIN_BLOCK;
    }
    const remaining = block.size - size;
    if (remaining > SMALL_UNITS) {
      const rest: Block = { addr: block.addr + size, size: remaining, free: true, perm: false, slot: -1, prev: block, next: block.next };
      if (block.next) block.next.prev = rest;
      block.next = rest;
      if (block.addr < SEGMENT_BASE) this.lowLinks++;
      block.size = size;
      this.push(rest);
    }
    block.free = false;
    this.allocatedBytes += block.size * MIN_BLOCK;
    if (this.allocatedBytes > this.windowPeakBytes) this.notePeak();
    return block;
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
      if (prev.addr < SEGMENT_BASE) this.lowLinks--;
      this.take(prev);
      prev.size += b.size;
      prev.next = b.next;
      if (b.next) b.next.prev = prev;
      b = prev;
    }
    const next = b.next;
    if (next && next.free) {
      if (next.addr < SEGMENT_BASE) this.lowLinks--;
      this.take(next);
      b.size += next.size;
      b.next = next.next;
      if (next.next) next.next.prev = b;
    }
    this.push(b);
  }

  /**
   * Fingerprint of the allocator's future behaviour between layers (orderedPoolKey: cached blocks with their neighbours,
   * `live` = the layer output, the one allocated block freed later), the seeded tails and the small pool's room
   * (reserved − live: its future growth depends on nothing else). Equal states evolve identically, up to the ties
   * counted in `ties`.
   */
  stateHash(live: Handle | null): number {
    const room = this.smallReserved - this.smallLive;
    return orderedPoolKey(this.pool, live, (room * 31 + this.tailHash1) | 0, (room * 17 + 1 + this.tailHash2) | 0);
  }

  /** Mark a live block as never freed (it walls in its free neighbours for good). */
  pin(h: Handle | null): void {
    if (h) h.perm = true;
  }

  /**
   * Drop from the pool (and from stateHash) the cached blocks that can never be used again: smaller than
   * every request still to come (`minUnits`, 512-byte units) and walled in by pinned blocks or segment ends,
   * so they can never merge either. Best fit never picks them, so decisions are unchanged.
   */
  hideDead(minUnits: number): void {
    const pool = this.pool;
    for (let i = pool.length - 1; i >= 0; i--) {
      const b = pool[i]!;
      if (b.size >= minUnits) continue;
      if (walled(b)) this.take(b);
    }
    const t = this.tailSizes;
    let n = 0;
    while (n < t.length && t[n]! < minUnits) this.hashTail(t[n++]!, -1);
    if (n > 0) t.splice(0, n);
  }

  /**
   * Account for skipped repeating layers: their permanent allocations (KV), new segments and the highest
   * allocation reached inside them (`peakBytes`, in phase `peakPhase`).
   */
  skip(reservedBytes: number, allocatedBytes: number, peakBytes: number, peakPhase: string): void {
    this.reservedBytes += reservedBytes;
    this.allocatedBytes += allocatedBytes;
    if (peakBytes > this.peakAllocatedBytes) {
      this.peakAllocatedBytes = peakBytes;
      this.peakPhase = peakPhase;
    }
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
    for (const bytes of blocks) {
      const t = Math.floor(bytes / MIN_BLOCK);
      this.tailSizes.push(t);
      this.hashTail(t, 1);
    }
    this.tailSizes.sort((x, y) => x - y);
  }

  private hashTail(t: number, sign: 1 | -1): void {
    this.tailHash1 = (this.tailHash1 + sign * wallMix1(t)) | 0;
    this.tailHash2 = (this.tailHash2 + sign * wallMix2(t)) | 0;
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
