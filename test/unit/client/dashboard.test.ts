// @vitest-environment happy-dom
// (The DOM environment compiles the runes for the browser, so the predictions' effects run.)
/**
 * Dashboard state fed with the recorded session as the socket delivers it (snapshot, then ticks, process
 * lists, PyTorch samples and events), and the history export built from it.
 */
import { describe, expect, it } from 'vitest';
import { flushSync } from 'svelte';
import { Dashboard, TORCH_RETIRE_MS } from '../../../client/src/lib/dashboard.svelte.ts';
import { GpuPredictions } from '../../../client/src/lib/gpuPrediction.svelte.ts';
import { CSV_HEADER, exportFileName, historyCsv, historyJson } from '../../../client/src/lib/exporting.ts';
import { DEFAULT_ALERT_SETTINGS, thresholdsFor, usableCapacity } from '../../../client/src/lib/gpuView.ts';
import { EMPTY_ALERTS } from '../../../shared/alerts.ts';
import { EMPTY_ATTRIBUTION } from '../../../shared/attribution.ts';
import type { DataRecord } from '../../../shared/data.ts';
import { sessionRecords } from './session.ts';

function feed(d: Dashboard, records: readonly DataRecord[], untilMs: number): void {
  const first = records.find((r) => r.kind === 'gpu');
  if (first?.kind !== 'gpu') throw new Error('no gpu record');
  d.applySnapshot({
    serverVersion: 'test', startedAtMs: first.t, nowMs: first.t,
    source: { kind: 'replay', status: 'running', label: 'replay', message: null, sinceMs: first.t, replay: null },
    gpus: first.gpus, history: [], processes: [], host: null, inventory: null, torchSamples: [], torchEvents: [], alerts: EMPTY_ALERTS, attribution: EMPTY_ATTRIBUTION,
  });
  for (const r of records) {
    if (r.t > untilMs) break;
    if (r.kind === 'gpu') d.applyTick({ timestampMs: r.t, gpus: r.gpus });
    else if (r.kind === 'processes') d.applyProcesses({ timestampMs: r.t, processes: r.processes });
    else if (r.kind === 'torch') d.applyTorch([r.sample]);
    else if (r.kind === 'torchEvent') d.applyEvents([r.event]);
  }
  d.applyTick({ timestampMs: untilMs, gpus: d.gpus }); // publish the newest torch points
}

describe('Dashboard on the recorded session', () => {
  it('draws nvidia-smi used and both PyTorch processes on the GPU, joined by their nvidia-smi rows', async () => {
    const records = await sessionRecords();
    const d = new Dashboard();
    const t0 = records[0]!.t;
    feed(d, records, t0 + 92_000);
    const uuid = d.gpus[0]!.uuid;
    const s = d.series[uuid];
    expect(s?.used.points.length).toBeGreaterThan(300);
    expect(s?.torch.map((t) => [t.pid, t.joinedBy]).sort()).toEqual([
      [423, 'pid'],
      [964, 'pid'],
    ]);
    expect(d.markers.filter((m) => m.kind === 'oom')).toHaveLength(1);
    expect(d.facts[423]?.model).toBe('llama-3-8b');
    // The split is attribution's: weights of both processes.
    expect(d.attribution[uuid]?.weightsBytes).toBe(16_060_522_496 + 988_065_536);
  });

  it('drops a process from the split after its end event (the recording’s second process exits at +107.7 s)', async () => {
    const records = await sessionRecords();
    const d = new Dashboard();
    feed(d, records, records[0]!.t + 110_000);
    expect(d.attribution[d.gpus[0]!.uuid]?.processes.map((p) => p.pid)).toEqual([423]);
  });

  it('retires the series of a PyTorch process an hour after it went silent', async () => {
    const records = await sessionRecords();
    const d = new Dashboard();
    const end = records[records.length - 1]!.t;
    feed(d, records, end);
    const gpu = d.gpus[0]!;
    expect(d.series[gpu.uuid]?.torch.map((t) => t.pid).sort()).toEqual([423, 964]);
    d.applyTick({ timestampMs: end + TORCH_RETIRE_MS + 1000, gpus: [{ ...gpu, timestampMs: end + TORCH_RETIRE_MS + 1000 }] });
    expect(d.series[gpu.uuid]?.torch).toEqual([]);
    expect(d.facts[423]).toBeUndefined();
    expect(d.torchLatest[423]).toBeUndefined();
  });

  it('predicts per GPU: the hook’s model, the run’s envelope, bands over the history and the predicted split', async () => {
    const records = await sessionRecords();
    const d = new Dashboard();
    feed(d, records, records[0]!.t + 60_000);
    const predictions = new GpuPredictions(d);
    try {
      const p = predictions.get(d.gpus[0]!.uuid);
      flushSync();
      expect(predictions.get(d.gpus[0]!.uuid)).toBe(p);
      expect(p.pid).toBe(423);
      expect(p.choice).toMatchObject({ source: 'hook', label: 'llama-3-8b' });
      expect(p.whatif.runtime).toMatchObject({ batch: 32, promptTokens: 4096, newTokens: 88 });
      expect(p.bands?.weights[0]).toEqual({ x: d.series[d.gpus[0]!.uuid]!.used.points[0]!.x, y: 16_060_522_496 });
      expect(p.predicted?.weights).toBe(16_060_522_496);
      expect(p.measured?.weights).toBe(16_060_522_496);
      // A user's edit is kept: the run's next requests no longer move the settings.
      p.whatif.set({ batch: 2 });
      feed(d, records, records[0]!.t + 90_000);
      flushSync();
      expect(p.whatif.runtime.batch).toBe(2);
    } finally {
      predictions.dispose();
    }
  });

  it('exports the history as CSV (one row per point and series) and JSON', async () => {
    const records = await sessionRecords();
    const d = new Dashboard();
    feed(d, records, records[0]!.t + 30_000);
    const input = { exportedAtMs: 0, source: d.source, gpus: d.gpus, series: d.series, events: d.events, markers: d.markers, uuid: null };
    const csv = historyCsv(input).trim().split('\n');
    const s = d.series[d.gpus[0]!.uuid]!;
    const torchPoints = s.torch.reduce((a, t) => a + t.allocated.points.length + t.reserved.points.length, 0);
    expect(csv[0]).toBe(CSV_HEADER);
    expect(csv.length - 1).toBe(s.used.points.length + torchPoints);
    const p0 = s.used.points[0]!;
    expect(csv[1]).toBe(`${new Date(p0.x).toISOString()},${p0.x},0,GPU-ccae4e7e-d1ae-910a-959f-bd978205491d,used_nvidia_smi,,${p0.y}`);
    const json = historyJson(input);
    expect(json.gpus[0]?.used.length).toBe(s.used.points.length);
    expect(json.gpus[0]?.torch[0]?.pid).toBe(423);
    expect(json.events.length).toBe(d.events.length);
    expect(exportFileName('csv', 0, Date.UTC(2026, 10, 21, 5, 12, 3))).toBe('headroom-gpu0-20261121-051203.csv');
  });

  it('quotes CSV fields that need it', () => {
    const csv = historyCsv({
      exportedAtMs: 0, source: null, events: [], markers: [], uuid: null,
      gpus: [{ timestampMs: 0, index: 0, uuid: 'GPU-"odd",uuid', name: null, busId: null, totalBytes: null, reservedBytes: null, usedBytes: 1, freeBytes: null, utilizationGpuPercent: null, utilizationMemoryPercent: null, temperatureC: null, powerDrawW: null, powerLimitW: null, pstate: null, health: 'ok' }],
      series: { 'GPU-"odd",uuid': { used: { key: 'k', label: 'l', points: [{ x: 0, y: 1 }], version: 1 }, torch: [] } },
    });
    expect(csv.split('\n')[1]).toBe('1970-01-01T00:00:00.000Z,0,0,"GPU-""odd"",uuid",used_nvidia_smi,,1');
  });

  it('draws the agent’s own thresholds when it sends them (free below 30 GiB: 30 GiB under the usable capacity)', async () => {
    const records = await sessionRecords();
    const d = new Dashboard();
    feed(d, records, records[0]!.t + 1000);
    const gpu = d.gpus[0]!;
    const headroom = { ...DEFAULT_ALERT_SETTINGS.headroom, warning: { freeBelowGiB: 30, freeBelowPercent: null, forMs: 0 } };
    const lines = thresholdsFor(gpu, { ...DEFAULT_ALERT_SETTINGS, headroom });
    expect(lines[0]).toMatchObject({ level: 'warning', bytes: usableCapacity(gpu)! - 30 * 1024 ** 3, label: 'warning: free < 30 GiB' });
    expect(thresholdsFor(gpu, { ...DEFAULT_ALERT_SETTINGS, enabled: false })).toEqual([]);
  });

  it('draws the alert thresholds where free memory crosses them (defaults: 10 % and 5 % free)', async () => {
    const records = await sessionRecords();
    const d = new Dashboard();
    feed(d, records, records[0]!.t + 1000);
    const gpu = d.gpus[0]!;
    const lines = thresholdsFor(gpu);
    expect(usableCapacity(gpu)).toBe(150_754_820_096 - 645_922_816);
    expect(lines.map((l) => [l.level, l.bytes])).toEqual([
      ['warning', Math.round(150_754_820_096 - 645_922_816 - 0.1 * 150_754_820_096)],
      ['critical', Math.round(150_754_820_096 - 645_922_816 - 0.05 * 150_754_820_096)],
    ]);
  });
});
