/**
 * Headroom: free memory on a GPU below an absolute (GiB) or relative (% of total) threshold, at a warning and
 * a critical level, each held for its minimum duration; cleared only when free rises above the warning
 * threshold plus a hysteresis band, so a value hovering at the threshold does not flap.
 */
import { formatGiB, GiB } from '../../../shared/units.ts';
import type { AlertConfig } from '../../../shared/alerts.ts';
import { gpuLabel, type Condition, type RuleContext } from './types.ts';

type Level = AlertConfig['headroom']['warning'];

/** Free below this many bytes trips the level: the larger of its absolute and relative thresholds. */
export function levelBytes(level: Level, totalBytes: number): number {
  const abs = level.freeBelowGiB === null ? 0 : level.freeBelowGiB * GiB;
  const rel = level.freeBelowPercent === null ? 0 : (level.freeBelowPercent / 100) * totalBytes;
  return Math.max(abs, rel);
}

export function headroomConditions(ctx: RuleContext): Condition[] {
  const cfg = ctx.config.headroom;
  if (!cfg.enabled) return [];
  const out: Condition[] = [];
  for (const [uuid, gpu] of ctx.obs.gpus) {
    const g = gpu.latest;
    if (g.totalBytes === null || g.freeBytes === null || g.totalBytes <= 0) {
      // Not available (a lost GPU prints no numbers): hold whatever state the alert is in.
      out.push({ key: `headroom:${uuid}`, rule: 'headroom', subject: { gpuUuid: uuid, gpuIndex: g.index, pid: null }, severity: null, clear: false, forMs: { warning: cfg.warning.forMs, critical: cfg.critical.forMs }, summary: '', values: {}, thresholds: {}, observedAtMs: g.timestampMs });
      continue;
    }
    const warn = levelBytes(cfg.warning, g.totalBytes);
    const crit = levelBytes(cfg.critical, g.totalBytes);
    const clearAt = warn + (cfg.hysteresisPercent / 100) * g.totalBytes;
    const free = g.freeBytes;
    const severity = free < crit ? 'critical' : free < warn ? 'warning' : null;
    const pct = (free / g.totalBytes) * 100;
    out.push({
      key: `headroom:${uuid}`,
      rule: 'headroom',
      subject: { gpuUuid: uuid, gpuIndex: g.index, pid: null },
      severity,
      clear: free >= clearAt,
      forMs: { warning: cfg.warning.forMs, critical: cfg.critical.forMs },
      summary: `${gpuLabel(g.index, uuid)}: ${formatGiB(free)} free (${pct.toFixed(1)} % of ${formatGiB(g.totalBytes)}), below the ${severity ?? 'warning'} threshold ${formatGiB(severity === 'critical' ? crit : warn)}`,
      values: { freeBytes: free, totalBytes: g.totalBytes, usedBytes: g.usedBytes, freePercent: Number(pct.toFixed(2)) },
      thresholds: {
        warningFreeBelowBytes: Math.round(warn),
        criticalFreeBelowBytes: Math.round(crit),
        clearAboveBytes: Math.round(clearAt),
        warningForMs: cfg.warning.forMs,
        criticalForMs: cfg.critical.forMs,
      },
      observedAtMs: g.timestampMs,
    });
  }
  return out;
}
