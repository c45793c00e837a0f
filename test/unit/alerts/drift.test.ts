import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AlertEngine } from '../../../server/alerts/engine.ts';
import { predictFromFacts } from '../../../server/alerts/prediction.ts';
import { parseSidecarLine } from '../../../server/torch/sidecar.ts';
import type { DataRecord } from '../../../shared/data.ts';
import { GiB } from '../../../shared/units.ts';
import { FIXTURES } from '../../support/paths.ts';
import { config, event, run, story, torch } from './synth.ts';

/** The real phased session (Llama-3-8B created in fp32, cast to bf16) as data records. */
function phased(): DataRecord[] {
  const out: DataRecord[] = [];
  for (const line of readFileSync(`${FIXTURES}sessions/phased_llama3_8b_fp32_then_bf16.jsonl`, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const parsed = parseSidecarLine(line);
    if (!parsed.ok) throw new Error(parsed.error);
    const { sample, event: ev } = parsed.value;
    if (sample) out.push({ kind: 'torch', t: sample.timestampMs, sample });
    if (ev) out.push({ kind: 'torchEvent', t: ev.timestampMs, event: ev });
  }
  return out;
}

describe('drift rule', () => {
  it('flags weights loaded in fp32 then cast (real phased session) and clears when the cache is released', () => {
    const records = phased();
    const t0 = records[0]!.t;
    const { events } = run(records);
    const at = (name: string): number => {
      const r = records.find((x) => x.kind === 'torchEvent' && x.event.name === name)!;
      return r.t;
    };
    expect(events.map((e) => `${e.transition} ${e.alert.key}`)).toEqual(['firing drift:weights:1314', 'resolved drift:weights:1314']);
    const [fired, resolved] = events;
    expect(fired!.atMs).toBe(at('weights_loaded'));
    // Reserved falls in the sample just before the cache_released marker is logged.
    expect(resolved!.atMs).toBeLessThanOrEqual(at('cache_released'));
    expect(resolved!.atMs).toBeGreaterThan(at('cache_released') - 1000);
    const v = fired!.alert.evidence.values;
    expect(v.predictedBytes).toBe(16_060_522_496); // the hook's weight_bytes
    expect(v.actualBytes).toBe(33_172_750_336); // reserved when loaded: the fp32 blocks stay cached
    expect(v.excessPercent).toBeCloseTo(106.6, 0);
    expect(fired!.alert.evidence.thresholds.abovePercent).toBe(25);
    expect(fired!.alert.summary).toMatch(/weights took 30\.89 GiB when loaded, 107 % above the 14\.96 GiB predicted/);
    expect((resolved!.atMs - t0) / 1000).toBeGreaterThan(20);
  });

  it('stays quiet when the load leaves no cached surplus', () => {
    const W = 16 * GiB;
    const records = [torch(0, W, W + 128 * 1024 * 1024), event(10, 'phase', { weight_bytes: W }, { name: 'serving' }), torch(100, W, W + 128 * 1024 * 1024)];
    expect(run(records).events).toEqual([]);
  });

  it('compares KV per token and non-PyTorch memory with the estimator prediction when there is one', () => {
    const W = 16 * GiB;
    const records = [
      torch(0, W, W),
      event(10, 'request_start', { id: 1, batch: 16, prompt_tokens: 4096, max_new_tokens: 0 }),
      // 16 × 4096 tokens at 256 KiB/token measured: 16 GiB, twice the 128 KiB/token predicted.
      event(1000, 'request_end', { id: 1, kv_bytes: 16 * 4096 * 262_144, peak_allocated: W + 16 * 4096 * 262_144 }),
      torch(1100, W, W),
    ];
    const engine = new AlertEngine({ config: config(), prediction: { weightsBytes: W, kvBytesPerToken: 131_072, nonTorchBytes: 650 * 1024 * 1024 } });
    const { events } = run(records, {}, engine);
    expect(story(events)).toEqual(['firing drift:kv_cache warning @1.0']);
    expect(events[0]!.alert.evidence.values).toMatchObject({ category: 'kv_cache', actual: 262_144, predicted: 131_072, excessPercent: 100 });
  });
});

describe('drift against the estimator', () => {
  it('predicts from the model and dtype the hook reports (Llama-3-8B bf16: 16,060,522,496 B, 128 KiB/token)', () => {
    expect(predictFromFacts({ model: 'llama-3-8b', dtype: 'bf16' }, null, 'NVIDIA H200')).toMatchObject({ weightsBytes: 16_060_522_496, kvBytesPerToken: 131_072 });
    expect(predictFromFacts({ dtype: 'torch.bfloat16' }, 'qwen2.5-0.5b', null)).toMatchObject({ weightsBytes: 988_065_536 });
    expect(predictFromFacts({ model: 'llama-3-8b' }, null, null)).toBeNull(); // no dtype: no guess
    expect(predictFromFacts({ model: 'no-such-model', dtype: 'bf16' }, null, null)).toBeNull();
  });

  it('flags weights kept in fp32 when the hook said bf16', () => {
    const fp32 = 32_121_044_992;
    const records = [
      torch(0, 0, 2 * 1024 * 1024),
      event(10, 'phase', { model: 'llama-3-8b', dtype: 'bf16' }, { name: 'load_weights' }),
      torch(900, fp32, fp32 + 64 * 1024 * 1024),
      event(1000, 'phase', { weight_bytes: fp32 }, { name: 'serving' }),
      torch(1100, fp32, fp32 + 64 * 1024 * 1024),
    ];
    const { events } = run(records);
    expect(story(events)).toEqual(['firing drift:weights warning @1.0']);
    expect(events[0]!.alert.evidence.values).toMatchObject({ predictedBytes: 16_060_522_496, predictedFrom: 'estimator', actualBytes: fp32 + 64 * 1024 * 1024, excessPercent: 100.4 });
  });
});
