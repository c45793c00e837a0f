import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ReplaySource } from '../../server/sources/replay.ts';
import { readRecording } from '../../server/recording/reader.ts';
import type { SourceSink } from '../../server/sources/types.ts';
import type { DataRecord } from '../../shared/data.ts';
import type { SourceState } from '../../shared/source.ts';
import { BUNDLED_RECORDING } from '../support/paths.ts';

describe('ReplaySource', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date('2026-12-01T10:00:00Z'));
  });
  afterEach(() => vi.useRealTimers());

  function collect(): { sink: SourceSink; records: DataRecord[]; states: SourceState[] } {
    const records: DataRecord[] = [];
    const states: SourceState[] = [];
    return { sink: { record: (r) => records.push(r), state: (s) => states.push(s) }, records, states };
  }

  it('plays the recording at real speed, shifted to now, with the recorded values', async () => {
    const recording = await readRecording(BUNDLED_RECORDING);
    const source = new ReplaySource({ file: BUNDLED_RECORDING, fileName: 'h200-serving.jsonl', speed: 1 });
    const { sink, records, states } = collect();
    await source.start(sink);
    const start = Date.now();
    expect(states[0]).toMatchObject({ kind: 'replay', status: 'running', label: 'Replay of a recorded session on NVIDIA H200 — not live' });
    const offset = states[0]!.replay!.offsetMs;
    expect(offset).toBe(start - recording.records[0]!.t);

    await vi.advanceTimersByTimeAsync(10_000);
    const expected = recording.records.filter((r) => r.t - recording.records[0]!.t <= 10_000);
    expect(records.length).toBe(expected.length);
    records.forEach((r, i) => {
      const original = expected[i]!;
      expect(r.kind).toBe(original.kind);
      expect(r.t - offset).toBe(original.t);
      if (r.kind === 'gpu' && original.kind === 'gpu') {
        expect(r.gpus[0]!.usedBytes).toBe(original.gpus[0]!.usedBytes);
        expect(r.gpus[0]!.timestampMs - offset).toBe(original.gpus[0]!.timestampMs);
      }
    });
    // Nothing is emitted before it is due.
    for (const r of records) expect(r.t).toBeLessThanOrEqual(Date.now());
    await source.stop();
  });

  it('loops: after the last record the next loop starts one interval later with a new offset', async () => {
    const recording = await readRecording(BUNDLED_RECORDING);
    const span = recording.records.at(-1)!.t - recording.records[0]!.t;
    const source = new ReplaySource({ file: BUNDLED_RECORDING, fileName: 'h200-serving.jsonl', speed: 10 });
    const { sink, records, states } = collect();
    await source.start(sink);
    await vi.advanceTimersByTimeAsync(span / 10 + 1000);
    const loops = states.map((s) => s.replay?.loop);
    expect(loops).toEqual([0, 1]);
    expect(records.length).toBeGreaterThan(recording.records.length);
    // Emitted GPU times keep increasing across the seam.
    const gpuTimes = records.filter((r) => r.kind === 'gpu').map((r) => r.t);
    for (let i = 1; i < gpuTimes.length; i++) expect(gpuTimes[i]!).toBeGreaterThan(gpuTimes[i - 1]!);
    await source.stop();
    const n = records.length;
    await vi.advanceTimersByTimeAsync(10_000);
    expect(records.length).toBe(n); // stopped means stopped
    expect(states.at(-1)?.status).toBe('stopped');
  });

  it('rejects a missing file with a message naming it', async () => {
    const source = new ReplaySource({ file: '/no/such.jsonl', fileName: 'such.jsonl', speed: 1 });
    await expect(source.start(collect().sink)).rejects.toThrow(/cannot read replay file \/no\/such\.jsonl/);
  });
});
