/** The caching allocator's size rules (c10/cuda/CUDACachingAllocator.cpp constants), in bytes unless named units. */
export const MIN_BLOCK = 512;
export const SMALL_SIZE = 1 << 20;
export const SMALL_BUFFER = 2 << 20;
const LARGE_BUFFER = 20 << 20;
const MIN_LARGE_ALLOC = 10 << 20;
const ROUND_LARGE = 2 << 20;
/** The small-pool limit in 512-byte units. */
export const SMALL_UNITS = SMALL_SIZE / MIN_BLOCK;

/** A request rounded up to 512 B (kMinBlockSize). */
export function roundRequest(bytes: number): number {
  return bytes <= MIN_BLOCK ? MIN_BLOCK : Math.ceil(bytes / MIN_BLOCK) * MIN_BLOCK;
}

/** Size of the segment (cudaMalloc) the allocator opens for a request it cannot serve from cache. */
export function segmentSize(rounded: number): number {
  if (rounded <= SMALL_SIZE) return SMALL_BUFFER;
  if (rounded < MIN_LARGE_ALLOC) return LARGE_BUFFER;
  return Math.ceil(rounded / ROUND_LARGE) * ROUND_LARGE;
}

/** A request's size in 512-byte units when it goes to the large pool, else Infinity. */
export function largeUnits(bytes: number): number {
  const size = Math.ceil(bytes / MIN_BLOCK);
  return bytes > 0 && size > SMALL_UNITS ? size : Infinity;
}
