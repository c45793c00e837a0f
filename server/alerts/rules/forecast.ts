/**
 * Forecast, three ways:
 * - trend: time to OOM from the growth of a GPU's occupied memory (total − free), fitted on the envelope of
 *   the batch sawtooth (envelope.ts), alerting when it is under `timeToOomBelowMs`;
 * - request: the request a process just admitted (batch × (prompt + new tokens), from its hook) will not fit,
 *   predicted from this run's calibration (KV and transient per token measured in its earlier requests);
 * - max: the configured maximum (maxBatch × maxSeqLen) will not fit next to the live baseline (weights,
 *   non-PyTorch memory of this process, what the other processes hold).
 */
import { formatBytes, formatDuration, formatGiB, GiB } from '../../../shared/units.ts';
import { fitEnvelope, timeToLimitMs } from '../envelope.ts';
import type { GpuObs, ProcessObs } from '../observe.ts';
import { gpuLabel, NO_HOLD, type Condition, type RuleContext } from './types.ts';

/** The trend changes only with a new GPU sample: evaluations between samples (PyTorch records) reuse it. */
function trendConditions(ctx: RuleContext): Condition[] {
  const out: Condition[] = [];
  for (const [uuid, gpu] of ctx.obs.gpus) {
    const cached = gpu.trend;
    if (!cached || cached.sample !== gpu.latest) gpu.trend = { sample: gpu.latest, condition: trendCondition(ctx, uuid, gpu) };
    const c = gpu.trend?.condition;
    if (c) out.push(c);
  }
  return out;
}

function trendCondition(ctx: RuleContext, uuid: string, gpu: GpuObs): Condition | null {
  const cfg = ctx.config.forecast;
  const g = gpu.latest;
  if (g.totalBytes === null) return null;
  const limit = g.totalBytes - cfg.marginGiB * GiB;
  const noise = (cfg.minGrowthBytesPerSecond * cfg.bucketMs) / 1000;
  const fit = fitEnvelope(gpu.occupied.toArray(), g.timestampMs, cfg.windowMs, cfg.bucketMs, 5, noise);
  const trending = fit !== null && fit.risingFraction >= 0.5;
  const ttoom = trending && fit ? timeToLimitMs(fit, limit, cfg.minGrowthBytesPerSecond) : null;
  const severity = ttoom !== null && ttoom < cfg.timeToOomBelowMs ? 'critical' : null;
  return {
    key: `forecast:trend:${uuid}`,
    rule: 'forecast',
    subject: { gpuUuid: uuid, gpuIndex: g.index, pid: null },
    severity,
    clear: ttoom === null || ttoom > cfg.timeToOomBelowMs * cfg.clearFactor,
    forMs: { warning: cfg.forMs, critical: cfg.forMs },
    summary: `${gpuLabel(g.index, uuid)}: out of memory in about ${formatDuration(ttoom)} at the current growth (${formatBytes(fit?.slopePerSecond ?? null)}/s)`,
    values: {
      timeToOomMs: ttoom === null ? null : Math.round(ttoom),
      growthBytesPerSecond: fit ? Math.round(fit.slopePerSecond) : null,
      envelopeBytes: fit ? Math.round(fit.levelNow) : null,
      risingFraction: fit ? Number(fit.risingFraction.toFixed(2)) : null,
      envelopePoints: fit?.buckets ?? null,
      limitBytes: Math.round(limit),
    },
    thresholds: { timeToOomBelowMs: cfg.timeToOomBelowMs, clearAboveMs: cfg.timeToOomBelowMs * cfg.clearFactor, windowMs: cfg.windowMs, bucketMs: cfg.bucketMs },
    observedAtMs: g.timestampMs,
  };
}

/** Bytes this process may still take on its GPU: free now, less the margin. */
function freeFor(ctx: RuleContext, p: ProcessObs): { free: number; index: number | null } | null {
  const g = p.gpuUuid ? ctx.obs.gpus.get(p.gpuUuid)?.latest : undefined;
  if (!g || g.freeBytes === null) return null;
  return { free: g.freeBytes - ctx.config.forecast.marginGiB * GiB, index: g.index };
}

function requestCondition(ctx: RuleContext, p: ProcessObs): Condition | null {
  const req = p.calibration.inFlight;
  const room = freeFor(ctx, p);
  if (!room) return null;
  const pred = req ? p.calibration.predict(req, req.allocatedBeforeBytes) : null;
  const base = {
    key: `forecast:request:${p.pid}`,
    rule: 'forecast' as const,
    subject: { gpuUuid: p.gpuUuid, gpuIndex: room.index, pid: p.pid },
    forMs: NO_HOLD,
    observedAtMs: Math.max(p.latest.timestampMs, req?.startedAtMs ?? 0),
  };
  if (!req || !pred) return { ...base, severity: null, clear: true, summary: '', values: {}, thresholds: {} };
  const more = Math.max(0, pred.peakAllocatedBytes - p.latest.reservedBytes);
  const fits = more <= room.free;
  return {
    ...base,
    severity: fits ? null : 'critical',
    clear: more <= 0.9 * room.free,
    summary: `pid ${p.pid} on ${gpuLabel(room.index, p.gpuUuid)}: request ${req.id} (${req.batch} × ${req.promptTokens + req.newTokens} tokens) needs about ${formatGiB(more)} more, ${formatGiB(room.free)} free: it will not fit`,
    values: {
      requestId: req.id,
      batch: req.batch,
      promptTokens: req.promptTokens,
      newTokens: req.newTokens,
      predictedKvBytes: pred.kvBytes,
      predictedTransientBytes: pred.transientBytes,
      predictedPeakAllocatedBytes: pred.peakAllocatedBytes,
      reservedBytes: p.latest.reservedBytes,
      additionalBytes: more,
      freeBytes: room.free,
      kvBytesPerToken: p.calibration.kvBytesPerToken,
      transientBytesPerToken: p.calibration.transientBytesPerToken,
      calibratedFromRequests: p.calibration.measuredRequests,
      requestStartedAtMs: req.startedAtMs,
    },
    thresholds: { marginBytes: Math.round(ctx.config.forecast.marginGiB * GiB) },
  };
}

function maxCondition(ctx: RuleContext, p: ProcessObs): Condition | null {
  const cfg = ctx.config.forecast;
  if (cfg.maxBatch === null || cfg.maxSeqLen === null || !p.gpuUuid) return null;
  const g = ctx.obs.gpus.get(p.gpuUuid)?.latest;
  const weights = p.calibration.weightBytes ?? ctx.predict(p)?.weightsBytes ?? null;
  const pred = weights === null ? null : p.calibration.predict({ batch: cfg.maxBatch, promptTokens: cfg.maxSeqLen, newTokens: 0 }, weights);
  if (!g || g.totalBytes === null || !pred) return null;
  const nonTorch = p.calibration.nonTorchBytes ?? ctx.predict(p)?.nonTorchBytes ?? 0;
  const others = ctx.obs.gpuProcesses.filter((q) => q.gpuUuid === p.gpuUuid && q.pid !== p.pid).reduce((s, q) => s + (q.usedBytes ?? 0), 0);
  const available = g.totalBytes - (g.reservedBytes ?? 0) - others - cfg.marginGiB * GiB;
  const needed = pred.peakAllocatedBytes + nonTorch;
  return {
    key: `forecast:max:${p.pid}`,
    rule: 'forecast',
    subject: { gpuUuid: p.gpuUuid, gpuIndex: g.index, pid: p.pid },
    severity: needed > available ? 'warning' : null,
    clear: needed <= 0.95 * available,
    forMs: NO_HOLD,
    summary: `pid ${p.pid} on ${gpuLabel(g.index, p.gpuUuid)}: the configured maximum (${cfg.maxBatch} × ${cfg.maxSeqLen} tokens) needs about ${formatGiB(needed)}, ${formatGiB(available)} available: it will not fit`,
    values: {
      neededBytes: Math.round(needed),
      availableBytes: Math.round(available),
      weightsBytes: weights,
      predictedKvBytes: pred.kvBytes,
      predictedTransientBytes: pred.transientBytes,
      nonTorchBytes: nonTorch,
      otherProcessesBytes: others,
      kvBytesPerToken: p.calibration.kvBytesPerToken,
      transientBytesPerToken: p.calibration.transientBytesPerToken,
      calibrated: 'from this run',
    },
    thresholds: { maxBatch: cfg.maxBatch, maxSeqLen: cfg.maxSeqLen, marginBytes: Math.round(cfg.marginGiB * GiB) },
    observedAtMs: Math.max(g.timestampMs, p.latest.timestampMs),
  };
}

export function forecastConditions(ctx: RuleContext): Condition[] {
  if (!ctx.config.forecast.enabled) return [];
  const out = trendConditions(ctx);
  for (const p of ctx.obs.processes.values()) {
    const r = requestCondition(ctx, p);
    if (r) out.push(r);
    const m = maxCondition(ctx, p);
    if (m) out.push(m);
  }
  return out;
}
