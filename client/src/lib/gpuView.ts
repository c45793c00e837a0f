/**
 * Per-GPU values the views derive from the dashboard state: the measured split of the newest moment, the
 * usable capacity (total − driver-reserved, the most `used` can reach) and the alert thresholds as `used`
 * levels (free below X ⇔ used above total − reserved − X).
 */
import { AlertConfigSchema, type AlertConfig } from '../../../shared/alerts.ts';
import type { DashboardAlertSettings } from '../../../shared/contract.ts';
import type { GpuSample } from '../../../shared/data.ts';
import { GiB } from '../../../shared/units.ts';
import type { ThresholdLine } from './chartAnnotations.ts';
import type { Dashboard } from './dashboard.svelte.ts';
import { nvidiaSmiOnlySplit, splitOf } from './measuredSplit.ts';
import type { Split } from './split.ts';

const DEFAULTS: AlertConfig = AlertConfigSchema.parse({});
/** The agent's defaults, for an agent that does not send its own settings. */
export const DEFAULT_ALERT_SETTINGS: DashboardAlertSettings = {
  enabled: DEFAULTS.enabled, headroom: DEFAULTS.headroom, maxBatch: DEFAULTS.forecast.maxBatch, maxSeqLen: DEFAULTS.forecast.maxSeqLen,
};

export function usableCapacity(gpu: GpuSample): number | null {
  if (gpu.totalBytes === null) return null;
  return gpu.totalBytes - (gpu.reservedBytes ?? 0);
}

function freeBelowBytes(level: { freeBelowGiB: number | null; freeBelowPercent: number | null }, totalBytes: number): number {
  const byGiB = level.freeBelowGiB !== null ? level.freeBelowGiB * GiB : 0;
  const byPct = level.freeBelowPercent !== null ? (level.freeBelowPercent / 100) * totalBytes : 0;
  // The rule fires when free is below either threshold: the higher of the two is the one crossed first.
  return Math.max(byGiB, byPct);
}

export function thresholdsFor(gpu: GpuSample, config: DashboardAlertSettings | null = null): ThresholdLine[] {
  config ??= DEFAULT_ALERT_SETTINGS;
  const usable = usableCapacity(gpu);
  if (usable === null || gpu.totalBytes === null || !config.enabled || !config.headroom.enabled) return [];
  const out: ThresholdLine[] = [];
  for (const level of ['warning', 'critical'] as const) {
    const l = config.headroom[level];
    const below = freeBelowBytes(l, gpu.totalBytes);
    const what = l.freeBelowPercent !== null && (l.freeBelowGiB === null || (l.freeBelowPercent / 100) * gpu.totalBytes >= l.freeBelowGiB * GiB)
      ? `${l.freeBelowPercent} %`
      : `${l.freeBelowGiB} GiB`;
    out.push({ key: level, level, bytes: Math.max(0, Math.round(usable - below)), label: `${level}: free < ${what}` });
  }
  return out;
}

export function measuredSplitOf(dashboard: Dashboard, gpu: GpuSample): Split {
  const a = dashboard.attribution[gpu.uuid];
  return a ? splitOf(a) : nvidiaSmiOnlySplit(gpu);
}
