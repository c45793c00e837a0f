import { describe, expect, it } from 'vitest';
import { GiB } from '../../../shared/units.ts';
import { gpu, run, story, torch, TOTAL } from './synth.ts';

describe('fragmentation rule', () => {
  it('is critical when reserved-but-unallocated is large while allocation retries grow, and clears after the window', () => {
    const records = [
      gpu(0, 40 * GiB),
      torch(0, 20 * GiB, 30 * GiB, { numAllocRetries: 0 }),
      torch(1000, 20 * GiB, 30 * GiB, { numAllocRetries: 2 }), // retries rose; 10 GiB (33 %) unallocated
      gpu(1000, 40 * GiB),
      torch(30_000, 20 * GiB, 30 * GiB, { numAllocRetries: 2 }),
      gpu(62_000, 40 * GiB), // 61 s after the rise: no longer growing, no pressure
    ];
    const { events } = run(records);
    expect(story(events)).toEqual(['firing fragmentation:100 critical @1.0', 'resolved fragmentation:100 critical @62.0']);
    expect(events[0]!.alert.evidence.values).toMatchObject({ unallocatedBytes: 10 * GiB, numAllocRetries: 2, retriesRoseAtMs: 1000 });
  });

  it('warns earlier, when the cache is that fragmented and the GPU is under critical headroom', () => {
    const records = [gpu(0, 40 * GiB), torch(0, 20 * GiB, 30 * GiB), gpu(500, Math.round(TOTAL * 0.03)), gpu(700, 40 * GiB)];
    expect(story(run(records).events)).toEqual(['firing fragmentation:100 warning @0.5', 'resolved fragmentation:100 warning @0.7']);
  });

  it('ignores a large cache with no retries and room on the GPU, and small unallocated amounts with retries', () => {
    expect(run([gpu(0, 40 * GiB), torch(0, 20 * GiB, 30 * GiB), torch(100, 20 * GiB, 30 * GiB), gpu(200, 40 * GiB)]).events).toEqual([]);
    const small = [gpu(0, 40 * GiB), torch(0, 20 * GiB, 21 * GiB, { numAllocRetries: 0 }), torch(100, 20 * GiB, 21 * GiB, { numAllocRetries: 5 })];
    expect(run(small).events).toEqual([]); // 1 GiB < 2 GiB
  });
});
