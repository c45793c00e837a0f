/**
 * The real recorded H200 serving session (server/recordings/h200-serving.jsonl): a Llama-3-8B-shaped bf16
 * server whose request 20 (96 × 16,384 tokens) hit "CUDA out of memory" at about 89 s. Every rule with its
 * default settings must warn before that OOM (forecast, fragmentation), raise the OOM at it, and raise
 * nothing else over the whole session. Lead times go to test-output/alerts-recorded-session.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { AlertEngine } from '../../../server/alerts/engine.ts';
import type { Recording } from '../../../server/recording/format.ts';
import { readRecording } from '../../../server/recording/reader.ts';
import type { AlertEvent } from '../../../shared/alerts.ts';
import { BUNDLED_RECORDING, TEST_OUTPUT } from '../../support/paths.ts';
import { config } from './synth.ts';

let recording: Recording;
let oomEventMs: number;
let oomSampleMs: number;

function replay(input = {}): AlertEvent[] {
  const engine = new AlertEngine({ config: config(input) });
  const events: AlertEvent[] = [];
  engine.onEvent((e) => events.push(e));
  for (const r of recording.records) engine.ingest(r);
  return events;
}

const firings = (events: AlertEvent[]): AlertEvent[] => events.filter((e) => e.transition === 'firing' || e.transition === 'escalated');

beforeAll(async () => {
  recording = await readRecording(BUNDLED_RECORDING);
  const oomEvent = recording.records.find((r) => r.kind === 'torchEvent' && r.event.kind === 'oom');
  const oomSample = recording.records.find((r) => r.kind === 'torch' && (r.sample.numOoms ?? 0) > 0);
  if (!oomEvent || !oomSample) throw new Error('the recording has no OOM');
  oomEventMs = oomEvent.t;
  oomSampleMs = oomSample.t;
});

describe('alerts on the real recorded session', () => {
  it('forecasts and flags fragmentation before the OOM, raises the OOM at it, and nothing else', () => {
    const events = replay();
    const t0 = recording.records[0]!.t;
    const first = (rule: string, severity?: string): AlertEvent | undefined =>
      firings(events).find((e) => e.alert.rule === rule && (severity === undefined || e.alert.severity === severity));

    const forecast = first('forecast');
    const fragmentation = first('fragmentation');
    const fragmentationCritical = first('fragmentation', 'critical');
    const oom = first('oom');
    expect(forecast?.alert.key).toBe('forecast:request:423');
    expect(forecast!.atMs).toBeLessThan(oomSampleMs);
    expect(fragmentation!.atMs).toBeLessThan(oomSampleMs);
    expect(oom!.atMs).toBeGreaterThanOrEqual(oomSampleMs);
    expect(oom!.atMs).toBeLessThanOrEqual(oomEventMs);
    // The forecast comes from this run's calibration: KV per token measured in earlier requests (Llama-3-8B: 128 KiB).
    expect(forecast!.alert.evidence.values.kvBytesPerToken).toBe(131_072);
    expect(forecast!.alert.evidence.values.calibratedFromRequests).toBe(19);

    // False alerts: any alert that fires outside the minute before the OOM (up to the OOM itself).
    const related = (e: AlertEvent): boolean => e.atMs >= oomEventMs - 60_000 && e.atMs <= oomEventMs;
    const falseAlerts = firings(events).filter((e) => e.transition === 'firing' && !related(e));
    expect(falseAlerts.map((e) => e.alert.summary)).toEqual([]);
    // Every episode is closed by the end of the session: one firing, one resolved each.
    const fired = new Set(events.filter((e) => e.transition === 'firing').map((e) => e.alert.id));
    const resolved = new Set(events.filter((e) => e.transition === 'resolved').map((e) => e.alert.id));
    expect([...resolved].sort()).toEqual([...fired].sort());

    const lead = (e: AlertEvent | undefined): { beforeOomEventMs: number | null; beforeFirstOomSampleMs: number | null; atSessionS: number | null } => ({
      beforeOomEventMs: e ? oomEventMs - e.atMs : null,
      beforeFirstOomSampleMs: e ? oomSampleMs - e.atMs : null,
      atSessionS: e ? Number(((e.atMs - t0) / 1000).toFixed(3)) : null,
    });
    const report = {
      oomEventAtSessionS: (oomEventMs - t0) / 1000,
      oomFirstSampleAtSessionS: (oomSampleMs - t0) / 1000,
      forecast: lead(forecast),
      fragmentationWarning: lead(fragmentation),
      fragmentationCritical: lead(fragmentationCritical),
      oom: lead(oom),
      firings: firings(events).length,
      falseAlerts: falseAlerts.length,
      sessionLengthS: (recording.records.at(-1)!.t - t0) / 1000,
      story: events.map((e) => `${((e.atMs - t0) / 1000).toFixed(3)} s ${e.transition} ${e.alert.severity} ${e.alert.key}: ${e.alert.summary}`),
    };
    mkdirSync(TEST_OUTPUT, { recursive: true });
    writeFileSync(`${TEST_OUTPUT}alerts-recorded-session.json`, `${JSON.stringify(report, null, 2)}\n`);
    console.log(`recorded session: forecast ${report.forecast.beforeOomEventMs} ms, fragmentation ${report.fragmentationWarning.beforeOomEventMs} ms before the OOM event; OOM alert at the first sample reporting it (${report.oom.beforeOomEventMs} ms before the logged event); ${report.falseAlerts} false alerts`);
  });

  it('with the configured maximum set to what OOMed, warns as soon as the run is calibrated, a minute ahead', () => {
    const events = replay({ forecast: { maxBatch: 96, maxSeqLen: 16_388 } });
    const max = firings(events).find((e) => e.alert.key === 'forecast:max:423');
    expect(max).toBeDefined();
    const firstMeasured = recording.records.find((r) => r.kind === 'torchEvent' && r.event.kind === 'request_end' && r.event.pid === 423)!;
    expect(max!.atMs).toBe(firstMeasured.t);
    expect(oomEventMs - max!.atMs).toBeGreaterThan(60_000);
    expect(max!.alert.evidence.values.neededBytes as number).toBeGreaterThan(max!.alert.evidence.values.availableBytes as number);
    console.log(`recorded session, maxBatch 96 × maxSeqLen 16388: "will not fit" ${oomEventMs - max!.atMs} ms before the OOM event`);
  });
});

describe('alerts on the second real recording (live H200, nvidia-smi at 100 ms: 8 + 16 GiB allocated, 8 GiB freed, empty_cache, a 5 × 2 GiB ramp)', () => {
  it('raises nothing: steps and a short ramp far from the total are no OOM forecast', async () => {
    const live = await readRecording(BUNDLED_RECORDING.replace('h200-serving.jsonl', 'h200-live-100ms.jsonl'));
    expect(live.records.filter((r) => r.kind === 'gpu').length).toBeGreaterThan(400);
    const engine = new AlertEngine({ config: config() });
    const events: AlertEvent[] = [];
    engine.onEvent((e) => events.push(e));
    for (const r of live.records) engine.ingest(r);
    expect(events).toEqual([]);
  });
});
