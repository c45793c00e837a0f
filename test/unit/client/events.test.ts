/** Process facts, markers and request spans folded from the recorded session's real PyTorch events. */
import { describe, expect, it } from 'vitest';
import { markersFromEvents, markersOn, processChangeMarkers } from '../../../client/src/lib/markers.ts';
import { foldEvents, requestSpans } from '../../../client/src/lib/processFacts.ts';
import { eventsOf, sessionRecords } from './session.ts';

describe('foldEvents() on the recorded session', () => {
  it('knows the serving model, its weights and dtype from the hook, and that it ended after one OOM', async () => {
    const facts = foldEvents(eventsOf(await sessionRecords()));
    const main = facts.get(423);
    expect(main?.model).toBe('llama-3-8b');
    expect(main?.dtype).toBe('bf16');
    expect(main?.weightBytes).toBe(16_060_522_496);
    expect(main?.params).toBe(8_030_261_248);
    expect(main?.config).toMatchObject({ num_hidden_layers: 32, num_key_value_heads: 8, vocab_size: 128256 });
    expect(main?.ooms).toBe(1);
    expect(main?.endedMs).not.toBeNull();
    expect(main?.request).toBeNull();
    expect(main?.lastRequest).toMatchObject({ id: 27, batch: 4, promptTokens: 256, maxNewTokens: 75 });
    // The run's envelope over the requests served to the end (the OOM request 96 × 16384 never finished).
    expect(main?.servedMax).toEqual({ batch: 32, promptTokens: 4096, maxNewTokens: 90 });
    expect(facts.get(964)?.model).toBe('qwen2.5-0.5b');
    expect(facts.get(964)?.weightBytes).toBe(988_065_536);
  });

  it('tracks the request in flight: the over-sized 96 × 16384 batch until its OOM', async () => {
    const events = eventsOf(await sessionRecords());
    const oomAt = events.findIndex((e) => e.kind === 'oom');
    const before = foldEvents(events.slice(0, oomAt));
    expect(before.get(423)?.request).toMatchObject({ id: 20, batch: 96, promptTokens: 16384, maxNewTokens: 4 });
    const after = foldEvents(events.slice(0, oomAt + 1));
    expect(after.get(423)?.request).toBeNull();
    expect(after.get(423)?.ooms).toBe(1);
  });
});

describe('requestSpans()', () => {
  it('gives one span per request of the serving process, the OOM one marked as such', async () => {
    const spans = requestSpans(eventsOf(await sessionRecords()), 423);
    expect(spans).toHaveLength(27);
    expect(spans.filter((s) => s.outcome === 'oom').map((s) => s.id)).toEqual([20]);
    expect(spans.every((s) => s.endMs !== null && s.endMs >= s.startMs)).toBe(true);
    expect(spans[0]).toMatchObject({ batch: 2, promptTokens: 2048, maxNewTokens: 22, outcome: 'done' });
  });
});

describe('markersFromEvents()', () => {
  it('marks the OOM at the recorded time with PyTorch’s message, and each process start, weights and exit', async () => {
    const events = eventsOf(await sessionRecords());
    const markers = markersFromEvents(events);
    const oom = events.find((e) => e.kind === 'oom');
    const ooms = markers.filter((m) => m.kind === 'oom');
    expect(ooms).toHaveLength(1);
    expect(ooms[0]?.atMs).toBe(oom?.timestampMs);
    expect(ooms[0]?.detail).toContain('Tried to allocate 42.00 GiB');
    expect(markers.filter((m) => m.kind === 'start').map((m) => m.pid)).toEqual([423, 964]);
    expect(markers.filter((m) => m.kind === 'exit').map((m) => m.pid).sort()).toEqual([423, 964]);
    expect(markers.filter((m) => m.kind === 'weights').map((m) => m.pid)).toEqual([423, 964]);
    expect(markers.filter((m) => m.kind === 'empty_cache')).toHaveLength(1);
  });

  it('closes the profiling window at the next phase of the same process', async () => {
    const events = eventsOf(await sessionRecords());
    const profiling = markersFromEvents(events).filter((m) => m.kind === 'profiling');
    expect(profiling).toHaveLength(1);
    const start = events.find((e) => e.kind === 'phase' && e.name === 'profiling');
    const next = events.find((e) => e.pid === 423 && e.kind === 'phase' && (start?.timestampMs ?? 0) < e.timestampMs);
    expect(profiling[0]?.atMs).toBe(start?.timestampMs);
    expect(profiling[0]?.endMs).toBe(next?.timestampMs);
  });
});

describe('processChangeMarkers() and markersOn()', () => {
  it('marks pids that appear or vanish in nvidia-smi on their GPU, except those the PyTorch log already covers', () => {
    const out = processChangeMarkers(new Map([[1, 'GPU-a'], [2, 'GPU-a']]), new Map([[2, 'GPU-a'], [3, 'GPU-b'], [4, 'GPU-b']]), 1000, new Set([4]));
    expect(out.map((m) => [m.kind, m.pid, m.uuid])).toEqual([
      ['start', 3, 'GPU-b'],
      ['exit', 1, 'GPU-a'],
    ]);
  });

  it('puts each marker on its own GPU: by uuid, by the pid’s GPU, else by the torch device index', async () => {
    const markers = markersFromEvents(eventsOf(await sessionRecords()));
    const gpu0 = { uuid: 'GPU-0', index: 0 };
    const gpu1 = { uuid: 'GPU-1', index: 1 };
    // Joined: pid 964 runs on GPU 1, pid 423 on GPU 0.
    const joined = (pid: number): string | null => (pid === 964 ? 'GPU-1' : pid === 423 ? 'GPU-0' : null);
    expect(new Set(markersOn(markers, gpu0, joined).map((m) => m.pid))).toEqual(new Set([423]));
    expect(new Set(markersOn(markers, gpu1, joined).map((m) => m.pid))).toEqual(new Set([964]));
    // Not joined: the recorded events name torch device 0, so they belong to GPU 0 only.
    expect(markersOn(markers, gpu0, () => null)).toHaveLength(markers.length);
    expect(markersOn(markers, gpu1, () => null)).toHaveLength(0);
    const nvml = processChangeMarkers(new Map(), new Map([[7, 'GPU-1']]), 5, new Set());
    expect(markersOn(nvml, gpu1, () => null)).toHaveLength(1);
    expect(markersOn(nvml, gpu0, () => 'GPU-0')).toHaveLength(0);
  });
});
