/**
 * Drift: what a category actually takes exceeds its prediction by more than N % (and by more than an
 * absolute floor, so small categories do not alert on noise).
 * - weights: predicted = the estimator's weights for the model and dtype the hook reports (or --model),
 *   else the bytes the hook reports; actual = what torch reserved when the weights were reported loaded (or
 *   the reported bytes, when larger). A model created in fp32 and cast to bf16 keeps the fp32 blocks cached
 *   (allocated 16.06 GB, reserved 33.17 GB): it lasts while the cache still holds the surplus (reserved −
 *   allocated), or the weights themselves are larger than predicted, and clears when that is gone.
 * - kv_cache: KV bytes per token the hook reports against the estimator's (only with --model).
 * - non_torch: nvidia-smi's per-process used minus torch reserved against the estimator's (only with --model).
 */
import { formatGiB, GiB } from '../../../shared/units.ts';
import type { ProcessObs } from '../observe.ts';
import { gpuLabel, type Condition, type RuleContext } from './types.ts';

function over(actual: number, predicted: number, pct: number, floorBytes: number): boolean {
  return actual - predicted > (pct / 100) * predicted && actual - predicted > floorBytes;
}

function weightsCondition(ctx: RuleContext, p: ProcessObs): Condition | null {
  const cfg = ctx.config.drift;
  const cal = p.calibration;
  const estimated = ctx.predict(p)?.weightsBytes ?? null;
  const predicted = estimated ?? cal.weightBytes;
  if (predicted === null || cal.loadReservedBytes === null || predicted <= 0) return null;
  const actual = Math.max(cal.loadReservedBytes, cal.weightBytes ?? 0);
  const floor = cfg.minExcessGiB * GiB;
  const surplus = p.latest.reservedBytes - p.latest.allocatedBytes;
  const clearBelow = Math.max(floor, (cfg.abovePercent / 100) * predicted);
  // Still there: cached blocks the load left behind, or weights larger than predicted (a wider dtype kept).
  const holding = Math.max(surplus, (cal.weightBytes ?? 0) - predicted) > clearBelow;
  const gpuIndex = p.gpuUuid ? (ctx.obs.gpus.get(p.gpuUuid)?.latest.index ?? null) : null;
  const pct = ((actual - predicted) / predicted) * 100;
  return {
    key: `drift:weights:${p.pid}`,
    rule: 'drift',
    subject: { gpuUuid: p.gpuUuid, gpuIndex, pid: p.pid },
    severity: over(actual, predicted, cfg.abovePercent, floor) && holding ? 'warning' : null,
    clear: !holding,
    forMs: { warning: 0, critical: 0 },
    summary: `pid ${p.pid} on ${gpuLabel(gpuIndex, p.gpuUuid)}: weights took ${formatGiB(actual)} when loaded, ${pct.toFixed(0)} % above the ${formatGiB(predicted)} predicted (loaded in a wider dtype, then cast?); ${formatGiB(surplus)} still cached`,
    values: {
      category: 'weights',
      predictedBytes: predicted,
      predictedFrom: estimated !== null ? 'estimator' : 'hook weight_bytes',
      actualBytes: actual,
      excessPercent: Number(pct.toFixed(1)),
      cachedSurplusBytes: surplus,
      weightsReportedAtMs: cal.weightsAtMs,
    },
    thresholds: { abovePercent: cfg.abovePercent, minExcessBytes: floor, clearWhenSurplusBelowBytes: Math.round(clearBelow) },
    observedAtMs: p.latest.timestampMs,
  };
}

function perUnitCondition(
  ctx: RuleContext,
  p: ProcessObs,
  category: 'kv_cache' | 'non_torch',
  actual: number | null,
  predicted: number | null,
  scale: number,
  atMs: number,
): Condition | null {
  const cfg = ctx.config.drift;
  if (actual === null || predicted === null || predicted <= 0) return null;
  const floor = cfg.minExcessGiB * GiB;
  const gpuIndex = p.gpuUuid ? (ctx.obs.gpus.get(p.gpuUuid)?.latest.index ?? null) : null;
  const firing = over(actual * scale, predicted * scale, cfg.abovePercent, floor);
  const pct = ((actual - predicted) / predicted) * 100;
  return {
    key: `drift:${category}:${p.pid}`,
    rule: 'drift',
    subject: { gpuUuid: p.gpuUuid, gpuIndex, pid: p.pid },
    severity: firing ? 'warning' : null,
    clear: !firing,
    forMs: { warning: 0, critical: 0 },
    summary: `pid ${p.pid} on ${gpuLabel(gpuIndex, p.gpuUuid)}: ${category === 'kv_cache' ? 'KV cache' : 'memory outside PyTorch'} ${pct.toFixed(0)} % above the prediction`,
    values: { category, actual, predicted, scale, excessPercent: Number(pct.toFixed(1)) },
    thresholds: { abovePercent: cfg.abovePercent, minExcessBytes: floor },
    observedAtMs: atMs,
  };
}

export function driftConditions(ctx: RuleContext): Condition[] {
  if (!ctx.config.drift.enabled) return [];
  const out: Condition[] = [];
  for (const p of ctx.obs.processes.values()) {
    const w = weightsCondition(ctx, p);
    if (w) out.push(w);
    const kv = p.calibration.lastKv;
    const pred = ctx.predict(p);
    const k = perUnitCondition(ctx, p, 'kv_cache', kv ? kv.bytes / kv.tokens : null, pred?.kvBytesPerToken ?? null, kv?.tokens ?? 1, kv?.atMs ?? p.latest.timestampMs);
    if (k) out.push(k);
    const n = perUnitCondition(ctx, p, 'non_torch', p.calibration.nonTorchBytes, pred?.nonTorchBytes ?? null, 1, p.latest.timestampMs);
    if (n) out.push(n);
  }
  return out;
}
