/**
 * The trace folder watcher on real profiler files: new plain traces, a .gz that grows in place (imported
 * only once complete and stable), existing files only with --from-start, memory timelines joined to the
 * run's process. Scans are driven by the test and the clock is injected, so nothing waits on time.
 */
import { appendFileSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { setLogQuiet } from '../../server/log.ts';
import { TraceWatcher } from '../../server/torch/traceWatcher.ts';
import type { DataRecord } from '../../shared/data.ts';
import { FIXTURES } from '../support/paths.ts';

setLogQuiet(true);
const TB = `${FIXTURES}torch-profiler/`;
const SERVE = `${FIXTURES}sessions/h200-serving/serve0.pt.trace.json.gz`;
let dir: string;
let watcher: TraceWatcher | null = null;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'headroom-traces-'));
});
afterEach(async () => {
  await watcher?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function make(fromStart: boolean): { records: DataRecord[]; clock: { t: number }; w: TraceWatcher } {
  const records: DataRecord[] = [];
  const clock = { t: 1_000_000 };
  const w = new TraceWatcher({ dir, fromStart, sink: { record: (r) => records.push(r) }, pollMs: 3_600_000, stableMs: 2000, now: () => clock.t });
  watcher = w;
  return { records, clock, w };
}
const kinds = (rs: DataRecord[]): string[] => rs.flatMap((r) => (r.kind === 'torchEvent' ? [r.event.kind] : []));

describe('the profiler trace folder watcher', () => {
  it('imports a new plain trace at once and skips files that were there before start', async () => {
    copyFileSync(`${TB}tb_infer0.1795234719856918743.pt.trace.json.gz`, join(dir, 'old.pt.trace.json.gz'));
    const { records, w } = make(false);
    await w.start();
    expect(records).toHaveLength(0);
    mkdirSync(join(dir, 'run1'));
    writeFileSync(join(dir, 'run1', 'serve0.1795234965085188211.pt.trace.json'), gunzipSync(readFileSync(SERVE)));
    await w.scan();
    expect(kinds(records)).toEqual(['profiler_trace']);
    expect(records.filter((r) => r.kind === 'torch').length).toBeGreaterThan(1000);
    expect(w.stats.imported).toHaveLength(1);
  });

  it('waits for a growing .gz to be complete and stable, then imports it once', async () => {
    const { records, clock, w } = make(false);
    await w.start();
    const bytes = readFileSync(`${TB}tb_infer0.1795234720059846087.pt.trace.json.gz`);
    const file = join(dir, 'infer0.1795234720059846087.pt.trace.json.gz');
    writeFileSync(file, bytes.subarray(0, 40_000));
    await w.scan();
    clock.t += 1000;
    appendFileSync(file, bytes.subarray(40_000, 90_000));
    await w.scan();
    expect(records).toHaveLength(0); // still growing
    clock.t += 5000;
    await w.scan(); // stable but truncated: fails to decompress, retried later
    expect(records).toHaveLength(0);
    appendFileSync(file, bytes.subarray(90_000));
    await w.scan();
    expect(records).toHaveLength(0); // changed again: waits for stability
    clock.t += 5000;
    await w.scan();
    expect(kinds(records)).toEqual(['profiler_trace']);
    await w.scan();
    expect(kinds(records)).toEqual(['profiler_trace']);
    expect(w.stats).toMatchObject({ failed: [] });
  });

  it('with --from-start imports existing traces, then the memory timeline under the run\'s pid', async () => {
    copyFileSync(`${TB}oneshot_profile_memory.pt.trace.json.gz`, join(dir, 'oneshot.pt.trace.json.gz'));
    copyFileSync(`${TB}memory_timeline.json`, join(dir, 'oneshot.memory_timeline.json'));
    const { records, clock, w } = make(true);
    clock.t += 5000;
    await w.start();
    expect(kinds(records)).toEqual(['profiler_trace', 'memory_timeline']);
    const tl = records.find((r) => r.kind === 'torchEvent' && r.event.kind === 'memory_timeline');
    expect(tl).toMatchObject({ event: { pid: 1636, facts: { peak_total_bytes: 1190219904 } } });
    if (tl?.kind === 'torchEvent') expect((tl.event.facts.points as unknown[]).length).toBe(500);
  });
});
