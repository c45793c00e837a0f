/** Byte and time units. Values travel as integer bytes and epoch milliseconds; format only at the edge. */
export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;
export const SECOND_MS = 1000;
export const MINUTE_MS = 60 * SECOND_MS;

/** nvidia-smi reports memory in MiB (`nounits`); convert to integer bytes, keeping null. */
export function mibToBytes(mib: number | null): number | null {
  return mib === null ? null : Math.round(mib * MiB);
}

/** Epoch seconds (PyTorch sidecar `ts`) to epoch milliseconds. */
export function secondsToMs(seconds: number): number {
  return Math.round(seconds * 1000);
}

/** `12.3 GiB`, `512 MiB`, `N/A` for null. Binary units, as nvidia-smi and PyTorch print them. */
export function formatBytes(bytes: number | null | undefined, digits = 1): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) return 'N/A';
  const sign = bytes < 0 ? '-' : '';
  const abs = Math.abs(bytes);
  if (abs >= GiB) return `${sign}${(abs / GiB).toFixed(digits)} GiB`;
  if (abs >= MiB) return `${sign}${(abs / MiB).toFixed(abs >= 100 * MiB ? 0 : digits)} MiB`;
  if (abs >= KiB) return `${sign}${(abs / KiB).toFixed(0)} KiB`;
  return `${sign}${abs} B`;
}

/** GiB with a fixed number of decimals, for compact tables. */
export function formatGiB(bytes: number | null | undefined, digits = 2): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) return 'N/A';
  return `${(bytes / GiB).toFixed(digits)} GiB`;
}

export function formatPercent(fraction: number | null | undefined, digits = 1): string {
  if (fraction === null || fraction === undefined || !Number.isFinite(fraction)) return 'N/A';
  return `${(fraction * 100).toFixed(digits)} %`;
}

/** A value with its unit, or N/A: `formatValue(76.8, 'W')`. */
export function formatValue(value: number | null | undefined, unit: string, digits = 0): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return 'N/A';
  return `${value.toFixed(digits)} ${unit}`;
}

/** `3.2 s`, `450 ms`, `2 min 5 s`. */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return 'N/A';
  if (ms < SECOND_MS) return `${Math.round(ms)} ms`;
  if (ms < MINUTE_MS) return `${(ms / SECOND_MS).toFixed(1)} s`;
  const min = Math.floor(ms / MINUTE_MS);
  const s = Math.round((ms - min * MINUTE_MS) / SECOND_MS);
  return `${min} min ${s} s`;
}
