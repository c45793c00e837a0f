/**
 * What-if state (a rune class) against the estimator itself: the bands it stacks, the largest batch, where a
 * batch runs out, following the run's envelope until edited; and the band series over the real requests.
 */
import { describe, expect, it } from 'vitest';
import { BAND_KEYS, bandRanges, bandSeries, stackFor, stackTops } from '../../../client/src/lib/bands.ts';
import { pickModel } from '../../../client/src/lib/modelChoice.ts';
import { budgetParts, estimateInput, gpuSpecFor, modelFromAgent, modelFromCatalog, modelFromReport } from '../../../client/src/lib/predict.ts';
import { foldEvents, requestSpans } from '../../../client/src/lib/processFacts.ts';
import { clampRuntime, DEFAULT_RUNTIME, WhatIf } from '../../../client/src/lib/whatif.svelte.ts';
import { estimate, findModel, solveMaxBatch } from '../../../shared/estimator/index.ts';
import { GiB } from '../../../shared/units.ts';
import { eventsOf, sessionRecords } from './session.ts';

/** The H200 of the recording: total − driver-reserved. */
const H200 = { gpuMemoryBytes: 150_754_820_096 - 645_922_816, gpuName: 'NVIDIA H200' };

async function reportedModel() {
  const facts = foldEvents(eventsOf(await sessionRecords())).get(423);
  if (!facts) throw new Error('pid 423 missing');
  return { facts, model: modelFromReport(facts) };
}

describe('the model the hook reported', () => {
  it('is the catalog Llama-3-8B with the exact weight bytes the process measured', async () => {
    const { model } = await reportedModel();
    expect(model?.source).toBe('hook');
    expect(model?.spec).toEqual(findModel('llama-3-8b'));
    expect(model?.weightsBytesExact).toBe(16_060_522_496);
    expect(model?.exactDtype).toBe('bf16');
  });

  it('falls back to the reported config fields when the name is not in the catalog', async () => {
    const { facts } = await reportedModel();
    const model = modelFromReport({ ...facts, model: 'my-finetune' });
    expect(model?.spec).toMatchObject({ layers: 32, hidden: 4096, heads: 32, kvHeads: 8, intermediate: 14336, vocab: 128256 });
  });

  it('is overridden by the agent’s --model, and that by a catalog pick in the page', async () => {
    const { facts } = await reportedModel();
    const agent = modelFromAgent({ ok: true, label: 'Qwen2.5-7B', spec: findModel('qwen2.5-7b')!, weightsBytesExact: null, scheme: null });
    expect(pickModel({ catalogId: null, agentModel: null, hook: facts })?.source).toBe('hook');
    expect(pickModel({ catalogId: null, agentModel: agent, hook: facts })).toMatchObject({ source: 'agent', label: 'Qwen2.5-7B' });
    expect(pickModel({ catalogId: 'mistral-7b-v0.1', agentModel: agent, hook: facts })).toMatchObject({ source: 'catalog', spec: findModel('mistral-7b-v0.1') });
    expect(modelFromAgent({ ok: false, error: 'unreadable' })).toBeNull();
  });

  it('maps nvidia-smi’s "NVIDIA H200" to the catalog H200 with the memory measured here', () => {
    expect(gpuSpecFor(H200)).toMatchObject({ id: 'h200', arch: 9, memoryBytes: H200.gpuMemoryBytes });
  });
});

describe('WhatIf', () => {
  it('follows the run’s envelope, and its estimate is the estimator’s for those settings', async () => {
    const { facts, model } = await reportedModel();
    const w = new WhatIf();
    w.model = model;
    w.context = H200;
    w.follow(facts.servedMax, facts.dtype);
    expect(w.runtime).toMatchObject({ batch: 32, promptTokens: 4096, newTokens: 90, weightScheme: 'bf16', tp: 1 });
    const direct = estimate({
      model: findModel('llama-3-8b')!, weightsBytesExact: 16_060_522_496, dtype: 'bf16', weightScheme: 'bf16', kvDtype: 'bf16',
      batch: 32, promptTokens: 4096, newTokens: 90, tp: 1, gpu: gpuSpecFor(H200),
    });
    expect(w.estimate?.deviceUsedBytes).toBe(direct.deviceUsedBytes);
    expect(w.estimate?.kvCacheBytes).toBe(32 * 4186 * 131_072);
    expect(w.parts).toEqual(budgetParts(direct));
  });

  it('moves the bands when a field changes, and stops following the run once edited', async () => {
    const { facts, model } = await reportedModel();
    const w = new WhatIf();
    w.model = model;
    w.context = H200;
    w.follow(facts.servedMax, facts.dtype);
    const before = w.parts;
    w.set({ batch: 64 });
    expect(w.following).toBe(false);
    expect(w.parts?.kvMaxBytes).toBe(64 * 4186 * 131_072);
    expect(w.parts?.kvMaxBytes).toBeGreaterThan(before?.kvMaxBytes ?? Infinity);
    w.follow({ batch: 1, promptTokens: 1, maxNewTokens: 1 }, 'bf16');
    expect(w.runtime.batch).toBe(64); // pinned
    w.set({ kvDtype: 'fp8' });
    expect(w.parts?.kvMaxBytes).toBe(64 * 4186 * 65_536);
    w.resume(facts.servedMax, facts.dtype);
    expect(w.runtime.batch).toBe(32);
  });

  it('answers the largest batch that fits and where the batch runs out of memory', async () => {
    const { model } = await reportedModel();
    const w = new WhatIf();
    w.model = model;
    w.context = H200;
    w.set({ batch: 96, promptTokens: 16384, newTokens: 4 });
    if (!model) throw new Error('no model');
    expect(w.maxBatch).toBe(solveMaxBatch(estimateInput(model, w.runtime, H200)));
    expect(w.maxBatch).toBeLessThan(96);
    // The recorded over-sized request (96 × 16,388 tokens) does not fit: the OOM point is below its length.
    expect(w.oomContextTokens).not.toBeNull();
    expect(w.oomContextTokens).toBeLessThan(16_388);
    const at = estimate({ ...estimateInput(model, { ...w.runtime, promptTokens: (w.oomContextTokens ?? 0) - 4 }, H200), headroomFraction: 0 });
    expect(at.fits).toBe(false);
  });

  it('clamps fields to their limits', () => {
    expect(clampRuntime({ ...DEFAULT_RUNTIME, batch: 0, tp: 1000, promptTokens: Number.NaN })).toMatchObject({ batch: 1, tp: 64, promptTokens: 1 });
  });

  it('has no estimate without a model (no fake numbers)', () => {
    const w = new WhatIf();
    expect(w.estimate).toBeNull();
    expect(w.maxBatch).toBeNull();
    expect(w.kvFor({ batch: 1, promptTokens: 1, maxNewTokens: 1 })).toBeNull();
  });

  it('catalog picks carry no exact weights (the checkpoint is not known)', () => {
    expect(modelFromCatalog('qwen2.5-7b')).toMatchObject({ source: 'catalog', weightsBytesExact: null });
    expect(modelFromCatalog('no-such-model')).toBeNull();
  });
});

describe('band series', () => {
  const parts = { weightsBytes: 10 * GiB, kvMaxBytes: 4 * GiB, activationBytes: 2 * GiB, overheadBytes: 1 * GiB };

  it('stacks weights, KV now, KV up to the maximum, activations and overhead', () => {
    const s = stackFor(parts, 1 * GiB);
    expect(stackTops(s)).toEqual({ weights: 10 * GiB, kvNow: 11 * GiB, kvToMax: 14 * GiB, activation: 16 * GiB, overhead: 17 * GiB });
    expect(bandRanges(s).kvNow).toEqual({ fromBytes: 10 * GiB, toBytes: 11 * GiB });
    // A request larger than the configured maximum: no negative band.
    expect(stackFor(parts, 6 * GiB).kvToMax).toBe(0);
  });

  it('steps the KV-now band up during each real request and down after it', async () => {
    const events = eventsOf(await sessionRecords());
    const spans = requestSpans(events, 423).map((s) => ({ startMs: s.startMs, endMs: s.endMs, kvNowBytes: s.batch * (s.promptTokens + s.maxNewTokens) * 131_072 }));
    const from = spans[0]!.startMs - 1000;
    const to = spans[spans.length - 1]!.endMs! + 1000;
    const series = bandSeries(parts, spans, from, to);
    for (const k of BAND_KEYS) expect(series[k].length).toBe(series.weights.length);
    const kvTopAt = (t: number): number => {
      const pts = series.kvNow.filter((p) => p.x <= t);
      return pts[pts.length - 1]!.y;
    };
    const first = spans[0]!;
    expect(kvTopAt(first.startMs - 1)).toBe(10 * GiB);
    expect(kvTopAt((first.startMs + first.endMs!) / 2)).toBe(10 * GiB + first.kvNowBytes);
    expect(kvTopAt(first.endMs! + 1)).toBe(10 * GiB);
    expect(series.weights.every((p, i) => p.x === series.overhead[i]?.x)).toBe(true);
    expect(series.weights[0]?.x).toBe(from);
    expect(series.weights[series.weights.length - 1]?.x).toBe(to);
  });
});
