/** The caching-allocator model follows PyTorch's rules (CUDACachingAllocator.cpp, default settings). */
import { describe, expect, it } from 'vitest';
import { CachingAllocator, roundRequest, segmentSize } from '../../../shared/estimator/allocator.ts';
import { residentReservedBytes } from '../../../shared/estimator/weightsLayout.ts';

const MiB = 1024 * 1024;

describe('CachingAllocator', () => {
  it('rounds requests to 512 B and sizes segments (2 MiB small, 20 MiB for 1–10 MiB, 2 MiB multiples above)', () => {
    expect(roundRequest(1)).toBe(512);
    expect(roundRequest(513)).toBe(1024);
    expect(segmentSize(roundRequest(4096))).toBe(2 * MiB);
    expect(segmentSize(roundRequest(3 * MiB))).toBe(20 * MiB);
    expect(segmentSize(roundRequest(10 * MiB + 1))).toBe(12 * MiB);
  });

  it('reuses a cached block instead of reserving more, and keeps freed segments reserved', () => {
    const a = new CachingAllocator();
    const x = a.malloc(100 * MiB);
    a.free(x);
    a.malloc(100 * MiB);
    expect(a.reservedBytes).toBe(100 * MiB);
    expect(a.peakAllocatedBytes).toBe(100 * MiB);
  });

  it('splits a larger cached block for a smaller request (best fit) and opens a segment when none fits', () => {
    const a = new CachingAllocator();
    const big = a.malloc(300 * MiB);
    const small = a.malloc(50 * MiB);
    a.free(big);
    a.free(small);
    a.malloc(40 * MiB); // best fit: the 50 MiB block, not the 300 MiB one
    a.malloc(280 * MiB); // fits in the untouched 300 MiB block
    expect(a.reservedBytes).toBe(350 * MiB);
    a.malloc(290 * MiB); // nothing cached fits: a new segment
    expect(a.reservedBytes).toBe(640 * MiB);
  });

  it('merges freed neighbours so a persistent tensor in the middle fragments the segment', () => {
    const a = new CachingAllocator();
    const seg = a.malloc(300 * MiB);
    a.free(seg);
    const p1 = a.malloc(100 * MiB);
    const pinned = a.malloc(100 * MiB);
    const p3 = a.malloc(100 * MiB);
    a.free(p1);
    a.free(p3);
    a.malloc(200 * MiB); // 200 MiB are free, but not contiguous: a new segment
    expect(a.reservedBytes).toBe(500 * MiB);
    a.free(pinned);
    a.malloc(300 * MiB); // now the first segment is whole again
    expect(a.reservedBytes).toBe(500 * MiB);
  });

  it('hands out a whole block when the remainder would be 1 MiB or less (and counts it allocated)', () => {
    const a = new CachingAllocator();
    const x = a.malloc(12 * MiB);
    a.free(x);
    a.malloc(11.5 * MiB);
    expect(a.allocatedBytes).toBe(12 * MiB);
  });

  it('releases cached free segments when cudaMalloc would pass the capacity, and flags what still does not fit', () => {
    const a = new CachingAllocator();
    a.capacityBytes = 500 * MiB;
    const x = a.malloc(300 * MiB);
    const pinned = a.malloc(100 * MiB);
    a.free(x); // a whole free 300 MiB segment stays cached
    a.malloc(350 * MiB); // 400 + 350 > 500: the 300 MiB segment goes back first, then 100 + 350 fit
    expect(a.reservedBytes).toBe(450 * MiB);
    expect(a.overCapacity).toBe(false);
    a.malloc(100 * MiB); // 550 > 500 with nothing cached to release: PyTorch would raise OOM
    expect(a.overCapacity).toBe(true);
    expect(pinned).not.toBeNull();
  });

  it('reserves Llama-3-8B bf16 weights as measured after loading (16,196,304,896 B; 135.8 MB of 20 MiB-segment slack)', () => {
    // per layer: q, k, v, o, gate, up, down, two norms; body: embed_tokens, lm_head (load order)
    const layer = [33554432, 8388608, 8388608, 33554432, 117440512, 117440512, 117440512, 8192, 8192];
    const reserved = residentReservedBytes([{ layers: 32, sizes: layer }], [1050673152, 1050673152]);
    expect(reserved).toBe(16_196_304_896);
    expect(16_229_859_328 - 33_554_432 - reserved).toBeLessThan(2 * MiB); // measured reserved less the cuBLAS workspace
  });
});

describe('decode replay lengths', () => {
  it('replays a generation one token at a time up to 1,024 steps, the rest in at most 32 equal strides', async () => {
    const { decodeLengths } = await import('../../../shared/estimator/forward.ts');
    expect(decodeLengths(100, 3)).toEqual([101, 102, 103]);
    expect(decodeLengths(100, 1024)).toEqual(Array.from({ length: 1024 }, (_, i) => 101 + i));
    const long = decodeLengths(100, 100_000);
    expect(long.length).toBeLessThanOrEqual(1024 + 32);
    expect(long.at(-1)).toBe(100 + 100_000);
    for (let i = 1; i < long.length; i++) expect(long[i]!).toBeGreaterThan(long[i - 1]!);
  });
});
