/**
 * Fragmentation: PyTorch holds memory reserved but unallocated (above an absolute and a relative threshold)
 * while its allocation retries grow: cudaMalloc failed, the cache was flushed and the allocation retried,
 * the step before "CUDA out of memory ... reserved by PyTorch but unallocated". Critical once retries grew
 * within the window; a warning earlier, when the cache is that fragmented while its GPU is under critical
 * headroom (the next large block can only come from a flush and retry).
 */
import { formatGiB, GiB } from '../../../shared/units.ts';
import { levelBytes } from './headroom.ts';
import { gpuLabel, type Condition, type RuleContext } from './types.ts';

export function fragmentationConditions(ctx: RuleContext): Condition[] {
  const cfg = ctx.config.fragmentation;
  if (!cfg.enabled) return [];
  const out: Condition[] = [];
  for (const p of ctx.obs.processes.values()) {
    const s = p.latest;
    const unalloc = s.reservedBytes - s.allocatedBytes;
    const pct = s.reservedBytes > 0 ? (unalloc / s.reservedBytes) * 100 : 0;
    const above = unalloc > cfg.unallocatedAboveGiB * GiB && pct > cfg.unallocatedAbovePercent;
    const rose = p.retriesRoseAtMs;
    const growing = rose !== null && ctx.nowMs - rose <= cfg.retryWindowMs;
    const g = p.gpuUuid ? ctx.obs.gpus.get(p.gpuUuid)?.latest : undefined;
    const pressureBelow = g?.totalBytes != null ? levelBytes(ctx.config.headroom.critical, g.totalBytes) : null;
    const pressure = pressureBelow !== null && g?.freeBytes != null && g.freeBytes < pressureBelow;
    const gpuIndex = g?.index ?? null;
    out.push({
      key: `fragmentation:${p.pid}`,
      rule: 'fragmentation',
      subject: { gpuUuid: p.gpuUuid, gpuIndex, pid: p.pid },
      severity: above && growing ? 'critical' : above && pressure ? 'warning' : null,
      clear: !above || (!growing && !pressure),
      forMs: { warning: 0, critical: 0 },
      summary: `pid ${p.pid} on ${gpuLabel(gpuIndex, p.gpuUuid)}: ${formatGiB(unalloc)} reserved by PyTorch but unallocated (${pct.toFixed(0)} % of reserved)${growing ? `, allocation retries rose to ${s.numAllocRetries}` : pressure ? `, with ${formatGiB(g?.freeBytes ?? null)} free on the GPU` : ''}`,
      values: {
        reservedBytes: s.reservedBytes,
        allocatedBytes: s.allocatedBytes,
        unallocatedBytes: unalloc,
        unallocatedPercent: Number(pct.toFixed(1)),
        inactiveSplitBytes: s.inactiveSplitBytes,
        numAllocRetries: s.numAllocRetries,
        retriesRoseAtMs: rose,
        gpuFreeBytes: g?.freeBytes ?? null,
      },
      thresholds: {
        unallocatedAboveBytes: cfg.unallocatedAboveGiB * GiB,
        unallocatedAbovePercent: cfg.unallocatedAbovePercent,
        retryWindowMs: cfg.retryWindowMs,
        pressureFreeBelowBytes: pressureBelow === null ? null : Math.round(pressureBelow),
      },
      observedAtMs: Math.max(s.timestampMs, g?.timestampMs ?? 0),
    });
  }
  return out;
}
