/**
 * Order-independent fingerprints of multisets of block sizes (512-byte units), for the weights layout's repeat
 * detection: two independent sums of murmur3-finalised mixes, returned as one 53-bit integer (a Map key).
 */

/** murmur3's 32-bit finalizer. */
function fmix(v: number): number {
  v = Math.imul(v ^ (v >>> 16), 0x85ebca6b);
  v = Math.imul(v ^ (v >>> 13), 0xc2b2ae35);
  return v ^ (v >>> 16);
}

/** The two mixes of a block size. */
const mixA = (size: number): number => fmix((size ^ 0x2c1b3c6d) | 0);
const mixB = (size: number): number => fmix(Math.imul(size, 0x297a2d39) ^ 0x5bd1e995);

/** Two 32-bit sums as one exact 53-bit integer. */
const key53 = (h1: number, h2: number): number => (h1 >>> 0) * 0x200000 + (h2 >>> 11);

/** Fingerprint of the multiset of sizes ≥ min among the first n entries. */
export function sizesKey(sizes: ArrayLike<number>, n: number, min: number): number {
  let h1 = 0;
  let h2 = 0;
  let count = 0;
  for (let i = 0; i < n; i++) {
    const x = sizes[i]!;
    if (x < min) continue;
    h1 = (h1 + mixA(x)) | 0;
    h2 = (h2 + mixB(x)) | 0;
    count++;
  }
  return key53((h1 + Math.imul(count, 0x61c88647)) | 0, h2);
}
