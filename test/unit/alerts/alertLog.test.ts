import { appendFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AlertLog } from '../../../server/alerts/alertLog.ts';
import { AlertEngine } from '../../../server/alerts/engine.ts';
import type { AlertEvent } from '../../../shared/alerts.ts';
import { GiB } from '../../../shared/units.ts';
import { config, gpu, TOTAL } from './synth.ts';

describe('alert log', () => {
  it('keeps every state change across a restart: history restored, a still-active alert resolves once', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'headroom-alert-log-')), 'nested', 'alerts.jsonl');
    const cfg = config({ headroom: { critical: { freeBelowPercent: 5, forMs: 0 }, warning: { freeBelowPercent: 10, forMs: 0 } } });

    // First run: one episode that ends, one that is still firing when the agent stops.
    const log1 = new AlertLog(path);
    expect((await log1.load()).events).toEqual([]);
    const first = new AlertEngine({ config: cfg });
    first.onEvent((e) => log1.append(e));
    for (const [t, free] of [[0, 0.01], [1000, 0.5], [2000, 0.01]] as const) first.ingest(gpu(t, Math.round(TOTAL * free)));
    await log1.flush();
    expect(readFileSync(path, 'utf8').trim().split('\n')).toHaveLength(3); // firing, resolved, firing
    appendFileSync(path, '{"transition":"firing","atMs":'); // a crash mid-line

    // Second run: restored from the log.
    const log2 = new AlertLog(path);
    const loaded = await log2.load();
    expect(loaded.events).toHaveLength(3);
    expect(loaded.skippedLines).toBe(1);
    const second = new AlertEngine({ config: cfg, restore: loaded.events });
    expect(second.active().map((a) => a.firedAtMs)).toEqual([2000]);
    expect(second.recent().map((a) => a.resolvedAtMs)).toEqual([1000]);
    const after: AlertEvent[] = [];
    second.onEvent((e) => after.push(e));
    second.ingest(gpu(3000, Math.round(TOTAL * 0.01))); // still low: no second firing
    second.ingest(gpu(4000, 40 * GiB)); // recovered: one resolved for the restored episode
    expect(after.map((e) => `${e.transition} ${e.alert.id}`)).toEqual([`resolved ${second.recent()[0]!.id}`]);
    expect(after[0]!.alert.id).toBe(loaded.events[2]!.alert.id);
  });

  it('reports a log it cannot write instead of throwing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'headroom-alert-log-'));
    writeFileSync(join(dir, 'file'), 'not a folder');
    const log = new AlertLog(join(dir, 'file', 'alerts.jsonl'));
    expect((await log.load()).events).toEqual([]);
    const engine = new AlertEngine({ config: config({ headroom: { critical: { freeBelowPercent: 5, forMs: 0 } } }) });
    engine.onEvent((e) => log.append(e));
    engine.ingest(gpu(0, Math.round(TOTAL * 0.01)));
    await log.flush();
    expect(log.error).toMatch(/cannot write the alert log .*file\/alerts\.jsonl \(ENOTDIR\); alerts still reach the dashboard and webhooks/);
  });
});
