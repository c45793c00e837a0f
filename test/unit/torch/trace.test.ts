/**
 * The profiler trace parser on every real trace in test/fixtures, checked against a plain JSON.parse of the
 * same file, plus the memory-timeline importer on the real export_memory_timeline JSON.
 */
import { readdirSync, readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { parseMemoryTimeline, readMemoryTimeline, TIMELINE_CATEGORIES } from '../../../server/torch/memoryTimeline.ts';
import { downsample, parseTraceFile, traceToRecords } from '../../../server/torch/trace.ts';
import { FIXTURES } from '../../support/paths.ts';

const TRACES = ['torch-profiler', 'sessions/h200-serving'].flatMap((d) =>
  readdirSync(`${FIXTURES}${d}`).filter((f) => /\.pt\.trace\.json(\.gz)?$/.test(f)).map((f) => `${FIXTURES}${d}/${f}`),
);
const tmp = mkdtempSync(join(tmpdir(), 'headroom-trace-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface RawEvent { name?: string; ts?: number; pid?: unknown; args?: Record<string, number> }
function naive(file: string): { base: number; events: RawEvent[] } {
  const doc = JSON.parse(gunzipSync(readFileSync(file)).toString('utf8')) as { baseTimeNanoseconds: number; traceEvents: RawEvent[] };
  return { base: doc.baseTimeNanoseconds, events: doc.traceEvents };
}

describe('profiler trace parser', () => {
  it('finds all four real traces', () => {
    expect(TRACES.length).toBe(4);
  });

  it.each(TRACES)('reads every CUDA [memory] event of %s with epoch times', async (file) => {
    const { base, events } = naive(file);
    const cuda = events.filter((e) => e.name === '[memory]' && e.args?.['Device Type'] === 1);
    const trace = await parseTraceFile(file);
    expect(trace.baseTimeNanoseconds).toBe(base);
    expect(trace.memoryEvents).toBe(events.filter((e) => e.name === '[memory]' || e.name === '[OutOfMemory]').length);
    expect(trace.points).toHaveLength(cuda.length);
    expect(trace.cpuMemoryEvents).toBe(events.filter((e) => e.name === '[memory]').length - cuda.length);
    const sorted = [...cuda].sort((a, b) => a.ts! - b.ts!);
    expect(trace.points[0]).toMatchObject({ allocatedBytes: sorted[0]!.args!['Total Allocated'], reservedBytes: sorted[0]!.args!['Total Reserved'], device: 0 });
    expect(trace.points[0]!.timestampMs).toBeCloseTo((base / 1000 + sorted[0]!.ts!) / 1000, 3);
    // Captured 2026-11-21 (epoch ms 1795190400000 is 00:00 UTC that day).
    expect(trace.points.every((p) => p.timestampMs > 1795190400000 && p.timestampMs < 1795190400000 + 86_400_000)).toBe(true);
    expect(trace.ooms).toEqual([]);
  });

  it('puts the oneshot trace on the same clock as the memory timeline of the same run', async () => {
    const trace = await parseTraceFile(`${FIXTURES}torch-profiler/oneshot_profile_memory.pt.trace.json.gz`);
    const tl = await readMemoryTimeline(`${FIXTURES}torch-profiler/memory_timeline.json`);
    // formats.md §2.1: 1790857026000000 + 4377687610962.429 = 1795234713610962.4 µs, the timeline's first time.
    expect(trace.points[0]!.timestampMs).toBeCloseTo(1795234713610.962, 3);
    expect(tl.points[0]!.timestampMs).toBe(1795234713610.962);
  });

  it('places the serving trace inside the profiling phase of the recorded session, at its allocation level', async () => {
    const trace = await parseTraceFile(`${FIXTURES}sessions/h200-serving/serve0.pt.trace.json.gz`);
    const phases = readFileSync(`${FIXTURES}sessions/h200-serving/torch_mem_main.jsonl`, 'utf8')
      .split('\n').filter((l) => l.includes('"phase", "name"')).map((l) => JSON.parse(l) as { ts: number; event: { name: string } });
    const start = phases.find((p) => p.event.name === 'profiling')!.ts * 1000;
    const end = phases.find((p) => p.ts * 1000 > start && p.event.name === 'serving')!.ts * 1000;
    expect(trace.points[0]!.timestampMs).toBeGreaterThan(start);
    expect(trace.points.at(-1)!.timestampMs).toBeLessThan(end);
    expect(trace.points.every((p) => p.pid === 423)).toBe(true);
    expect(Math.min(...trace.points.map((p) => p.allocatedBytes))).toBeGreaterThan(16_000_000_000); // 16 GB of weights live
  });

  it('turns a trace into bounded samples that keep the peak, one marker, and OOM events', async () => {
    const file = `${FIXTURES}torch-profiler/tb_infer0.1795234719856918743.pt.trace.json.gz`;
    const doc = JSON.parse(gunzipSync(readFileSync(file)).toString('utf8')) as { traceEvents: RawEvent[] };
    const oomTs = doc.traceEvents.find((e) => e.name === '[memory]')!.ts! + 5;
    doc.traceEvents.push({ name: '[OutOfMemory]', ts: oomTs, pid: 1636, args: { 'Total Reserved': 3e9, 'Total Allocated': 2e9, Bytes: 45097156608, 'Device Id': 0, 'Device Type': 1 } });
    const withOom = join(tmp, 'oom.pt.trace.json.gz');
    writeFileSync(withOom, gzipSync(JSON.stringify(doc)));
    const trace = await parseTraceFile(withOom);
    expect(trace.ooms).toMatchObject([{ pid: 1636, device: 0, bytes: 45097156608, allocatedBytes: 2e9 }]);
    const records = traceToRecords(trace, 100);
    const samples = records.filter((r) => r.kind === 'torch');
    expect(samples).toHaveLength(100);
    const peak = Math.max(...trace.points.map((p) => p.allocatedBytes));
    expect(Math.max(...samples.map((r) => (r.kind === 'torch' ? r.sample.allocatedBytes : 0)))).toBe(peak);
    const events = records.flatMap((r) => (r.kind === 'torchEvent' ? [r.event] : []));
    expect(events.map((e) => e.kind).sort()).toEqual(['oom', 'profiler_trace']);
    expect(events.find((e) => e.kind === 'profiler_trace')!.facts).toMatchObject({ memory_events: trace.points.length, peak_allocated: peak });
    expect(records.map((r) => r.t)).toEqual([...records.map((r) => r.t)].sort((a, b) => a - b));
  });

  it('keeps memory bounded on long traces by merging neighbours, keeping the highest allocation', async () => {
    const file = `${FIXTURES}torch-profiler/oneshot_profile_memory.pt.trace.json.gz`;
    const full = await parseTraceFile(file);
    const capped = await parseTraceFile(file, 500);
    expect(capped.merged).toBe(true);
    expect(capped.points.length).toBeLessThanOrEqual(500);
    expect(Math.max(...capped.points.map((p) => p.allocatedBytes))).toBe(Math.max(...full.points.map((p) => p.allocatedBytes)));
    expect(downsample(full.points, 10)).toHaveLength(10);
  });

  it('reports a truncated .gz (still being written) as an error', async () => {
    const bytes = readFileSync(`${FIXTURES}torch-profiler/tb_infer0.1795234720059846087.pt.trace.json.gz`);
    const partial = join(tmp, 'partial.pt.trace.json.gz');
    writeFileSync(partial, bytes.subarray(0, bytes.length / 2));
    await expect(parseTraceFile(partial)).rejects.toThrow();
  });
});

describe('memory timeline import', () => {
  it('reads the real export_memory_timeline JSON in PyTorch category order', async () => {
    const tl = await readMemoryTimeline(`${FIXTURES}torch-profiler/memory_timeline.json`);
    expect(tl.points).toHaveLength(3654);
    expect(TIMELINE_CATEGORIES[0]).toBe('parameter');
    expect(tl.points[0]!.bytes).toEqual([983633920, 0, 16512, 0, 0, 0, 0, 0]);
    expect(tl.peakByCategory).toEqual({ parameter: 983633920, optimizer_state: 0, input: 33571456, temporary: 0, activation: 41959424, gradient: 0, autograd_detail: 0, unknown: 198519296 });
    expect(tl.peakTotalBytes).toBe(1190219904);
  });

  it('rejects other JSON with a message naming the format', () => {
    expect(() => parseMemoryTimeline({ traceEvents: [] }, 'x.json')).toThrow(/export_memory_timeline plot JSON/);
    expect(() => parseMemoryTimeline([[1], [[0, 1]]], 'x.json')).toThrow(/9 numbers/);
  });
});
