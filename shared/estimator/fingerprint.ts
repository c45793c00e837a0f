/**
 * Order-independent fingerprints of multisets of block sizes (512-byte units) for the allocator model's repeat
 * detection: two independent sums of murmur3-finalised mixes, returned as one 53-bit integer (a Map key).
 */

/** murmur3's 32-bit finalizer. */
function fmix(v: number): number {
  v = Math.imul(v ^ (v >>> 16), 0x85ebca6b);
  v = Math.imul(v ^ (v >>> 13), 0xc2b2ae35);
  return v ^ (v >>> 16);
}

/** The two mixes of a free block's size that is walled in for good (or a seeded tail). */
export const wallMix1 = (size: number): number => fmix((size ^ 0x2c1b3c6d) | 0);
export const wallMix2 = (size: number): number => fmix(Math.imul(size, 0x297a2d39) ^ 0x5bd1e995);

/** Two 32-bit sums as one exact 53-bit integer. */
export const key53 = (h1: number, h2: number): number => (h1 >>> 0) * 0x200000 + (h2 >>> 11);

/** Fingerprint of the multiset of sizes ≥ min among the first n entries. */
export function sizesKey(sizes: ArrayLike<number>, n: number, min: number): number {
  let h1 = 0;
  let h2 = 0;
  let count = 0;
  for (let i = 0; i < n; i++) {
    const x = sizes[i]!;
    if (x < min) continue;
    h1 = (h1 + wallMix1(x)) | 0;
    h2 = (h2 + wallMix2(x)) | 0;
    count++;
  }
  return key53((h1 + Math.imul(count, 0x61c88647)) | 0, h2);
}

/** The parts of an allocator block the state fingerprint reads. */
export interface FpBlock {
  addr: number;
  size: number;
  free: boolean;
  perm: boolean;
  prev: FpBlock | null;
  next: FpBlock | null;
}

/** A block that can never merge: its neighbours are segment ends or pinned (never freed) blocks. */
export const walled = (b: FpBlock): boolean => (b.prev === null || b.prev.perm) && (b.next === null || b.next.perm);

/**
 * What a neighbour is, for the fingerprint: a wall (segment end or pinned), the live block, a free block, or a
 * particular long-lived allocation (the prelude's tensors: same block, same address, in every layer).
 */
function neighbourId(n: FpBlock | null, live: FpBlock | null): number {
  if (n === null || n.perm) return 0;
  if (n === live) return 1;
  return n.free ? 2 : (3 + n.addr) | 0;
}

/** A 32-bit mix of a size (any integer < 2^53) and its two neighbours' ids. */
function mix3(size: number, left: number, right: number, seed: number): number {
  let h = fmix((size % 0x40000000) ^ seed);
  h = fmix(h ^ Math.floor(size / 0x40000000) ^ Math.imul(left, 0x9e3779b1));
  return fmix((h + Math.imul(right ^ 0x7f4a7c15, 0x85ebca6b)) | 0);
}

/** Addresses at or above this lie in segments the replay opened (below: seeded weight tails, see allocator). */
export const SEGMENT_BASE = 2 ** 29;

/** Scratch list for orderedPoolKey (reused: no allocation per layer). */
const seq: FpBlock[] = [];

/** Append b to seq, keeping seq sorted by address (insertion sort: a few dozen blocks). */
function insertByAddr(b: FpBlock): void {
  let i = seq.length;
  seq.push(b);
  while (i > 0 && seq[i - 1]!.addr > b.addr) {
    seq[i] = seq[i - 1]!;
    i--;
  }
  seq[i] = b;
}

/**
 * Fingerprint of the large pool between layers, `live` being the layer output (the one allocated block freed
 * later). Blocks in segments the replay opened, and `live`, are hashed as a sequence in address order: each by
 * size and both neighbours (wall, live, free, or a particular prelude tensor by its address), walled-in blocks
 * by size only, `live` by the size it was handed (whole or split). Equal keys thus mean equal merges to come and
 * equal address order, so best-fit ties among these resolve alike. Seeded tails and their pieces (below
 * SEGMENT_BASE) are an order-free multiset, walled ones by size only (interchangeable): h1/h2 carry the unused
 * tails; the allocator counts the ties whose outcome this key cannot tell.
 */
export function orderedPoolKey(pool: readonly FpBlock[], live: FpBlock | null, h1: number, h2: number): number {
  seq.length = 0;
  for (const b of pool) {
    if (b.addr >= SEGMENT_BASE) {
      insertByAddr(b);
      continue;
    }
    if (walled(b)) {
      h1 = (h1 + wallMix1(b.size)) | 0;
      h2 = (h2 + wallMix2(b.size)) | 0;
      continue;
    }
    const l = neighbourId(b.prev, live);
    const r = neighbourId(b.next, live);
    h1 = (h1 + mix3(b.size, l, r, 0x1b873593)) | 0;
    h2 = (h2 + mix3(b.size, r, l, 0x3c6ef372)) | 0;
  }
  if (live) {
    if (live.addr >= SEGMENT_BASE) insertByAddr(live);
    else {
      const l = neighbourId(live.prev, live);
      const r = neighbourId(live.next, live);
      h1 = (h1 + mix3(live.size, l, r, 0x6a09e667)) | 0;
      h2 = (h2 + mix3(live.size, r, l, 0x510e527f)) | 0;
    }
  }
  let s1 = 0x243f6a88;
  let s2 = 0x13198a2e;
  for (const b of seq) {
    // One mix per block (walled: by size only), combined in order twice (two 32-bit sequence hashes).
    const e = b === live
      ? mix3(b.size, neighbourId(b.prev, live), neighbourId(b.next, live), 0x6a09e667)
      : walled(b) ? wallMix1(b.size) : mix3(b.size, neighbourId(b.prev, live), neighbourId(b.next, live), 0x1b873593);
    s1 = (Math.imul(s1, 0x9e3779b1) + e) | 0;
    s2 = (Math.imul(s2 ^ e, 0x85ebca77) + (b.size | 0)) | 0;
  }
  const n = seq.length;
  seq.length = 0;
  return key53((h1 + fmix(s1)) | 0, (h2 + fmix(s2 ^ n)) | 0);
}
