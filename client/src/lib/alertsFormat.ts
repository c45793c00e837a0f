/** Text for the alerts panel: evidence values by their unit suffix, times and durations. Pure. */
import type { AlertEvent } from '../../../shared/alerts.ts';
import { formatBytes, formatDuration } from '../../../shared/units.ts';

/** `freeBytes` → `3.2 GiB`, `conditionSinceMs`/`…AtMs` → clock time, `forMs` → `2.0 s`, `…Percent` → `4.5 %`. */
export function formatEvidenceValue(key: string, value: number | string | null): string {
  if (value === null) return 'N/A';
  if (typeof value === 'string') return value;
  if (/AtMs$/.test(key)) return formatClock(value);
  if (/Bytes$/.test(key)) return formatBytes(value);
  if (/BytesPerSecond$/.test(key)) return `${formatBytes(value)}/s`;
  if (/BytesPerToken$/.test(key)) return `${formatBytes(value)}/token`;
  if (/Ms$/.test(key)) return formatDuration(value);
  if (/Percent$/.test(key)) return `${value} %`;
  return String(value);
}

/** `fooBarBytes` → `foo bar`. */
export function evidenceLabel(key: string): string {
  return key
    .replace(/AtMs$/, 'At')
    .replace(/(Bytes(PerSecond|PerToken)?|Ms|Percent)$/, '')
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase();
}

export function formatClock(ms: number): string {
  const d = new Date(ms);
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

/** `12 s ago`, `3 min 5 s ago`, `just now`. */
export function formatAgo(thenMs: number, nowMs: number): string {
  const d = nowMs - thenMs;
  return d < 1000 ? 'just now' : `${formatDuration(d)} ago`;
}

export interface NotificationContent {
  title: string;
  body: string;
  tag: string;
}

/** A browser notification for a firing or an escalation; none for resolutions or re-notifications. */
export function notificationFor(e: AlertEvent): NotificationContent | null {
  if (e.transition !== 'firing' && e.transition !== 'escalated') return null;
  const a = e.alert;
  return { title: `Headroom: ${a.severity} ${a.rule}`, body: a.summary, tag: a.id };
}
