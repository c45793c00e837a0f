import { describe, expect, it } from 'vitest';
import { AlertEngine } from '../../../server/alerts/engine.ts';
import type { SourceState } from '../../../shared/source.ts';
import { GiB } from '../../../shared/units.ts';
import { config, event, gpu, run, story, torch } from './synth.ts';

const OOM_TEXT = 'CUDA out of memory. Tried to allocate 42.00 GiB. GPU 0 has a total capacity of 139.80 GiB of which 36.19 GiB is free. Of the allocated memory 57.01 GiB is allocated by PyTorch, and 42.23 GiB is reserved by PyTorch but unallocated.';

describe('event rules', () => {
  it('raises one OOM alert per OOM (the numOoms rise and the logged event are one), resolved after the quiet time', () => {
    const records = [
      gpu(0, 40 * GiB),
      torch(0, 20 * GiB, 21 * GiB, { numOoms: 0 }),
      torch(1000, 20 * GiB, 21 * GiB, { numOoms: 1 }),
      event(1020, 'oom', {}, { message: OOM_TEXT }),
      gpu(30_000, 40 * GiB),
      torch(30_000, 20 * GiB, 21 * GiB, { numOoms: 1 }),
      torch(60_000, 20 * GiB, 21 * GiB, { numOoms: 1 }),
      gpu(61_000, 40 * GiB),
    ];
    const { events, engine } = run(records);
    // The message arrives 20 ms after the sample that showed the OOM: the firing alert is updated with it.
    expect(story(events)).toEqual(['firing oom:100 critical @1.0', 'updated oom:100 critical @1.0', 'resolved oom:100 critical @61.0']);
    expect(events[1]!.alert.id).toBe(events[0]!.alert.id);
    expect(events[1]!.alert.evidence.values).toMatchObject({ triedToAllocateBytes: 42 * GiB, reservedUnallocatedBytes: Math.round(42.23 * GiB) });
    expect(events[1]!.alert.evidence.conditionSinceMs).toBe(1000);
    expect(events[1]!.alert.summary).toMatch(/Tried to allocate 42\.00 GiB/);
    expect(engine.recent()[0]!.key).toBe('oom:100');
  });

  it('raises an OOM from a logged event alone, with its message', () => {
    const { events } = run([gpu(0, 40 * GiB), event(500, 'oom', {}, { message: OOM_TEXT, pid: 7 })]);
    expect(story(events)).toEqual(['firing oom:7 critical @0.5']);
    expect(events[0]!.alert.summary).toMatch(/pid 7 .*CUDA out of memory\. Tried to allocate 42\.00 GiB/);
  });

  it('raises a GPU that is lost or needs a reset, and resolves when it is back', () => {
    const { events } = run([gpu(0, 40 * GiB), gpu(250, 40 * GiB, { health: 'lost', freeBytes: null, usedBytes: null }), gpu(500, 40 * GiB)]);
    expect(story(events)).toEqual(['firing gpu-health:GPU-00000000-1111-2222-3333-444444444444 critical @0.3', 'resolved gpu-health:GPU-00000000-1111-2222-3333-444444444444 critical @0.5']);
    expect(events[0]!.alert.summary).toBe('GPU 0: GPU is lost (fell off the bus)');
  });

  it('raises nvidia-smi failing and a stale source on the wall clock, once each', () => {
    let now = 1_000_000;
    let age: number | null = 100;
    const engine = new AlertEngine({ config: config({ events: { staleAfterMs: 5_000 } }), now: () => now, lastSampleAgeMs: () => age });
    const got: string[] = [];
    engine.onEvent((e) => got.push(`${e.transition} ${e.alert.severity} ${e.alert.summary}`));
    const state = (status: SourceState['status'], message: string | null = null): SourceState => ({ kind: 'live', status, label: 'live', message, sinceMs: now, replay: null });
    engine.source(state('running'));
    age = 6_000;
    now += 1_000;
    engine.tick();
    engine.tick();
    age = 100;
    engine.tick();
    engine.source(state('error', 'nvidia-smi exited with code 9: NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver'));
    engine.tick();
    engine.source(state('running'));
    expect(got).toEqual([
      'firing warning no GPU sample for 6.0 s: the data is stale',
      'resolved warning no GPU sample for 6.0 s: the data is stale',
      'firing critical nvidia-smi is failing: nvidia-smi exited with code 9: NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver',
      'resolved critical nvidia-smi is failing: nvidia-smi exited with code 9: NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver',
    ]);
  });
});
