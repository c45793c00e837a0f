/**
 * `--record <file>`: the live agent (against the fake nvidia-smi) appends recording format v1, flushed while it
 * runs; replay reads it back; a second run appends to it, after cutting a partial last line left by a crash;
 * a file that is not a recording is refused. Also: the committed live H200 recording replays.
 */
import { appendFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readRecording } from '../../server/recording/reader.ts';
import { RecordingFormatError } from '../../server/recording/format.ts';
import { MiB } from '../../shared/units.ts';
import { startTestAgent } from '../support/agent.ts';
import { ROOT } from '../support/paths.ts';
import { GPU0, GPU1, startLive, waitFor } from './live-support.ts';

const dir = mkdtempSync(join(tmpdir(), 'headroom-record-'));

describe('--record', () => {
  it('writes a recording while the agent runs, appends on the next run, and replay reads it back', async () => {
    const file = join(dir, 'session.jsonl');
    const run = await startLive({}, ['--record', file]);
    try {
      // Flushed while running (at least every second), not only at exit.
      await waitFor('records on disk', () => {
        try {
          const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
          const has = (kind: string): boolean => lines.some((l) => l.startsWith(`{"kind":"${kind}"`));
          return has('processes') && has('host') && has('inventory') && lines.filter((l) => l.startsWith('{"kind":"gpu"')).length >= 5;
        } catch {
          return false;
        }
      });
    } finally {
      await run.close();
    }
    const first = await readRecording(file);
    expect(first.header).toMatchObject({ origin: 'live', gpuNames: ['NVIDIA H200', 'NVIDIA H200'] });
    const gpuCount = first.records.filter((r) => r.kind === 'gpu').length;
    const recorded = first.records.filter((r) => r.kind === 'gpu');
    expect(recorded.every((r) => r.kind === 'gpu' && r.gpus.map((g) => g.uuid).join() === `${GPU0},${GPU1}`)).toBe(true);
    const kinds = new Set(first.records.map((r) => r.kind));
    for (const k of ['gpu', 'processes', 'host', 'inventory']) expect(kinds.has(k as never), k).toBe(true);
    // Every sample the hub got is on disk after close.
    expect(gpuCount).toBe(run.records.filter((r) => r.kind === 'gpu').length);

    // A crash mid-write leaves a partial line; the next run cuts it and appends under the same header.
    appendFileSync(file, '{"kind":"gpu","t":17952');
    const again = await startLive({}, ['--record', file]);
    try {
      await waitFor('more samples', () => again.records.filter((r) => r.kind === 'gpu').length >= 3);
    } finally {
      await again.close();
    }
    const text = readFileSync(file, 'utf8');
    expect(text.match(/"kind":"header"/g)).toHaveLength(1);
    expect(text).not.toContain('"t":17952\n');
    const second = await readRecording(file);
    expect(second.skippedPartialLastLine).toBe(false);
    expect(second.records.filter((r) => r.kind === 'gpu').length).toBe(gpuCount + again.records.filter((r) => r.kind === 'gpu').length);

    // Replay plays it back as a replay source.
    const replay = await startTestAgent(['--source', 'replay', '--replay', file, '--replay-speed', '5']);
    try {
      await waitFor('replayed GPUs', () => replay.hub.latestGpus.length === 2);
      expect(replay.hub.source).toMatchObject({ kind: 'replay', status: 'running', label: 'Replay of a recorded session on NVIDIA H200 — not live' });
      expect(replay.hub.source.replay?.fileName).toBe('session.jsonl');
    } finally {
      await replay.close();
    }
  });

  it('refuses to append to a file that is not a Headroom recording', async () => {
    const file = join(dir, 'notes.txt');
    writeFileSync(file, 'my notes\n');
    await expect(startLive({}, ['--record', file])).rejects.toThrow(RecordingFormatError);
    await expect(startLive({}, ['--record', file])).rejects.toThrow(/the file exists and is not a Headroom recording .* pass a new file name/);
    expect(readFileSync(file, 'utf8')).toBe('my notes\n');
  });

  it('the committed live H200 recording (bundled agent, 100 ms, real PyTorch alloc/free) replays', async () => {
    const rec = await readRecording(join(ROOT, 'server/recordings/h200-live-100ms.jsonl'));
    expect(rec.header).toMatchObject({ origin: 'live', gpuNames: ['NVIDIA H200'] });
    const gpu = rec.records.filter((r) => r.kind === 'gpu');
    expect(gpu.length).toBeGreaterThan(400);
    const used = gpu.map((r) => (r.kind === 'gpu' ? (r.gpus[0]?.usedBytes ?? 0) : 0));
    // The PyTorch phases as nvidia-smi measured them: CUDA context 621 MiB, peak 8 + 16 GiB + context = 25197 MiB.
    expect(Math.max(...used)).toBe(27243 * MiB);
    expect(used).toContain(25197 * MiB);
    expect(used[0]).toBe(0);
    const gaps = gpu.slice(1).map((r, i) => r.t - (gpu[i]?.t ?? 0)).sort((a, b) => a - b);
    expect(gaps[gaps.length >> 1]).toBeGreaterThanOrEqual(95);
    expect(gaps[gaps.length >> 1]).toBeLessThanOrEqual(110);
  });
});
