import { describe, expect, it } from 'vitest';
import type { DataRecord } from '../../../shared/data.ts';
import { GiB } from '../../../shared/units.ts';
import { event, gpu, run, story, torch, TOTAL } from './synth.ts';

describe('forecast rule: time to OOM from the growth of the envelope', () => {
  /** A serving sawtooth (batches of 3 s, 6 GiB tall) on a base that grows `growth` bytes/s until it fills the GPU. */
  function growing(growth: number, seconds: number): DataRecord[] {
    const out: DataRecord[] = [];
    for (let t = 0; t <= seconds * 1000; t += 250) {
      const occupied = 20 * GiB + (growth * t) / 1000 + ((t % 3000) / 3000) * 6 * GiB;
      out.push(gpu(t, Math.max(0, Math.round(TOTAL - occupied))));
    }
    return out;
  }

  it('fires when the envelope will reach the GPU total within the threshold, with the time in its evidence', () => {
    // Envelope top: 26 GiB + 0.5 GiB/s; limit 79.5 GiB (margin 0.5) → reached at 107 s; under 60 s from 47 s on.
    const { events } = run(growing(0.5 * GiB, 100));
    const fired = events.find((e) => e.transition === 'firing' && e.alert.rule === 'forecast');
    expect(fired).toBeDefined();
    const at = fired!.atMs / 1000;
    // Condition from about 47 s (plus up to one bucket of lag) then held 5 s.
    expect(at).toBeGreaterThan(50);
    expect(at).toBeLessThan(60);
    const predicted = fired!.alert.evidence.values.timeToOomMs as number;
    const actual = 107_000 - fired!.atMs;
    expect(Math.abs(predicted - actual) / actual).toBeLessThan(0.15);
    expect(fired!.alert.evidence.thresholds.timeToOomBelowMs).toBe(60_000);
  });

  it('stays silent on a flat sawtooth, on slow growth and on one big step', () => {
    expect(run(growing(0, 200)).events).toEqual([]);
    expect(run(growing(10 * 1024 * 1024, 200)).events).toEqual([]); // 10 MiB/s: over an hour to go
    const step: DataRecord[] = [];
    for (let t = 0; t <= 200_000; t += 250) step.push(gpu(t, t < 100_000 ? 60 * GiB : 5 * GiB));
    expect(run(step, { headroom: { enabled: false } }).events).toEqual([]);
  });
});

describe('forecast rule: will it fit, from the calibration of this run', () => {
  const W = 16 * GiB;
  const KV_PER_TOKEN = 131_072;
  /** Weights loaded, then one measured request (batch 2 × 2048 prompt + 22 new) that calibrates KV and transient. */
  function calibrated(): DataRecord[] {
    const transientPerToken = 120_000;
    const kvEnd = 2 * (2048 + 22) * KV_PER_TOKEN;
    return [
      gpu(0, 60 * GiB),
      torch(0, W, W + GiB),
      event(10, 'phase', { weight_bytes: W }, { name: 'serving' }),
      event(20, 'request_start', { id: 1, batch: 2, prompt_tokens: 2048, max_new_tokens: 22 }),
      torch(500, W + kvEnd, W + 3 * GiB),
      event(1000, 'request_end', { id: 1, kv_bytes: kvEnd, peak_allocated: W + 2 * 2048 * KV_PER_TOKEN + 2 * 2048 * transientPerToken }),
      torch(1100, W, W + 3 * GiB),
      gpu(1100, 60 * GiB),
    ];
  }

  it('fires critical at the start of a request that will not fit, and resolves when it is over', () => {
    const records = [
      ...calibrated(),
      // 32 × 12288 tokens: KV 48 GiB + transient 44 GiB on top of 16 GiB allocated, 19 GiB reserved; 60 GiB free.
      event(2000, 'request_start', { id: 2, batch: 32, prompt_tokens: 12288, max_new_tokens: 0 }),
      gpu(2250, 60 * GiB),
      event(3000, 'oom', {}, { message: 'CUDA out of memory. Tried to allocate 30.00 GiB.' }),
      gpu(3250, 60 * GiB),
    ];
    const { events } = run(records);
    expect(story(events)).toEqual(['firing forecast:request critical @2.0', 'resolved forecast:request critical @3.0', 'firing oom:100 critical @3.0']);
    const v = events[0]!.alert.evidence.values;
    expect(v.kvBytesPerToken).toBe(KV_PER_TOKEN);
    expect(v.transientBytesPerToken).toBe(120_000);
    expect(v.predictedKvBytes).toBe(32 * 12288 * KV_PER_TOKEN);
    expect(v.predictedTransientBytes).toBe(32 * 12288 * 120_000);
    expect(v.calibratedFromRequests).toBe(1);
  });

  it('lets a request that fits through', () => {
    const records = [...calibrated(), event(2000, 'request_start', { id: 2, batch: 4, prompt_tokens: 4096, max_new_tokens: 100 }), gpu(2250, 60 * GiB)];
    expect(run(records).events).toEqual([]);
  });

  it('warns that the configured maximum will not fit, once the run is calibrated', () => {
    const fits = run(calibrated(), { forecast: { maxBatch: 8, maxSeqLen: 8192 } });
    expect(fits.events).toEqual([]);
    const { events } = run(calibrated(), { forecast: { maxBatch: 64, maxSeqLen: 8192 } });
    expect(story(events)).toEqual(['firing forecast:max warning @1.0']);
    const v = events[0]!.alert.evidence;
    expect(v.thresholds).toMatchObject({ maxBatch: 64, maxSeqLen: 8192 });
    expect(v.values.weightsBytes).toBe(W);
    expect(v.values.neededBytes as number).toBeGreaterThan(v.values.availableBytes as number);
  });
});
