/**
 * Pure mapping of systeminformation's `mem()` and `currentLoad()` into a HostSample. Used memory is
 * total − available (what programs hold; page cache that the kernel can drop is not "used"), so CPU offload
 * and pinned host buffers show, and a full page cache does not look like pressure.
 */
import type { HostSample } from '../../shared/data.ts';

function bytesOrNull(x: unknown): number | null {
  return typeof x === 'number' && Number.isFinite(x) && x >= 0 ? Math.round(x) : null;
}

export function toHostSample(mem: unknown, load: unknown, timestampMs: number): HostSample {
  const m = (typeof mem === 'object' && mem !== null ? mem : {}) as Record<string, unknown>;
  const l = (typeof load === 'object' && load !== null ? load : {}) as Record<string, unknown>;
  const total = bytesOrNull(m.total);
  const available = bytesOrNull(m.available);
  const cpu = typeof l.currentLoad === 'number' && Number.isFinite(l.currentLoad) ? Math.min(100, Math.max(0, l.currentLoad)) : null;
  return {
    timestampMs,
    memTotalBytes: total,
    memUsedBytes: total !== null && available !== null ? Math.max(0, total - available) : null,
    memAvailableBytes: available,
    cpuLoadPercent: cpu,
  };
}
