/**
 * nvidia-smi cell values: placeholders become null (never 0), and some of them mark the device unhealthy.
 * See formats.md §1.6: the NVML error strings nvidia-smi prints in square brackets.
 */
import type { GpuHealth } from '../../shared/data.ts';

/** Placeholder text (without brackets, lower case) → the health it implies. */
const HEALTH_PLACEHOLDERS: ReadonlyMap<string, GpuHealth> = new Map([
  ['gpu is lost', 'lost'],
  ['gpu requires reset', 'reset-required'],
  ['unknown error', 'unknown-error'],
]);

/** True when a cell holds no value: `[N/A]`, `[Not Supported]`, `[Insufficient Permissions]`, bare `N/A`, empty, ... */
export function isPlaceholder(cell: string): boolean {
  const c = cell.trim();
  return c === '' || c === 'N/A' || (c.startsWith('[') && c.endsWith(']'));
}

/** The health a cell implies: `[GPU is lost]` → lost; anything else → null (no opinion). */
export function placeholderHealth(cell: string): GpuHealth | null {
  const c = cell.trim();
  if (!(c.startsWith('[') && c.endsWith(']'))) return null;
  return HEALTH_PLACEHOLDERS.get(c.slice(1, -1).toLowerCase()) ?? null;
}

/** Worst of two health states. */
export function worseHealth(a: GpuHealth, b: GpuHealth): GpuHealth {
  const rank: Record<GpuHealth, number> = { ok: 0, 'unknown-error': 1, 'reset-required': 2, lost: 3 };
  return rank[b] > rank[a] ? b : a;
}

/** A number, or null for a placeholder or anything that is not a finite number. Strips a trailing unit (`76.85 W`). */
export function parseNumberCell(cell: string): number | null {
  if (isPlaceholder(cell)) return null;
  const m = /^\s*(-?\d+(?:\.\d+)?)(?:\s*[A-Za-z%]+)?\s*$/.exec(cell);
  if (!m?.[1]) return null;
  const n = Number(m[1]);
  return Number.isFinite(n) ? n : null;
}

export function parseStringCell(cell: string): string | null {
  return isPlaceholder(cell) ? null : cell.trim();
}

/**
 * nvidia-smi's `timestamp` (`2026/11/21 04:21:53.189`): local time without zone. `utcOffsetMinutes`
 * null means the agent's own zone (live); a number fixes the zone (converting captures from another host).
 */
export function parseSmiTimestamp(cell: string, utcOffsetMinutes: number | null = null): number | null {
  const m = /^\s*(\d{4})\/(\d{2})\/(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?\s*$/.exec(cell);
  if (!m) return null;
  const [, y, mo, d, h, mi, s, frac] = m;
  const ms = frac ? Number(frac.padEnd(3, '0')) : 0;
  const parts = [Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), ms] as const;
  if (utcOffsetMinutes === null) return new Date(...parts).getTime();
  return Date.UTC(...parts) - utcOffsetMinutes * 60_000;
}
