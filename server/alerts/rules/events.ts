/**
 * Events: an OOM in a PyTorch process (its `oom` event or a rise of `numOoms`), a GPU lost or needing a reset
 * (nvidia-smi's placeholders, GpuSample.health), nvidia-smi failing (source status `error`) and a stale source
 * (status `stale`, or no GPU sample for `staleAfterMs`).
 */
import { formatDuration } from '../../../shared/units.ts';
import type { OomSeen } from '../observe.ts';
import { gpuLabel, NO_HOLD, type Condition, type RuleContext, type SourceContext } from './types.ts';

/** "Tried to allocate 42.00 GiB" and "… 42.23 GiB is reserved by PyTorch but unallocated", when present. */
export function oomFacts(message: string | null): Record<string, number | null> {
  const gib = (re: RegExp): number | null => {
    const m = message?.match(re);
    return m?.[1] ? Math.round(Number(m[1]) * 1024 ** 3) : null;
  };
  return {
    triedToAllocateBytes: gib(/Tried to allocate ([\d.]+) GiB/),
    freeBytes: gib(/of which ([\d.]+) GiB is free/),
    reservedUnallocatedBytes: gib(/([\d.]+) GiB is reserved by PyTorch but unallocated/),
  };
}

function oomCondition(ctx: RuleContext, oom: OomSeen, uuid: string | null): Condition {
  const quiet = ctx.config.events.oomQuietMs;
  const active = ctx.nowMs - oom.atMs < quiet;
  const gpuIndex = uuid ? (ctx.obs.gpus.get(uuid)?.latest.index ?? null) : null;
  return {
    key: `oom:${oom.pid}`,
    rule: 'oom',
    subject: { gpuUuid: uuid, gpuIndex, pid: oom.pid },
    severity: active ? 'critical' : null,
    clear: !active,
    forMs: NO_HOLD,
    summary: `pid ${oom.pid} on ${gpuLabel(gpuIndex, uuid)}: CUDA out of memory${oom.message ? `: ${oom.message.split('. ').slice(0, 2).join('. ')}` : ''}`,
    values: { oomAtMs: oom.atMs, numOoms: oom.count, message: oom.message ? oom.message.slice(0, 600) : null, ...oomFacts(oom.message) },
    thresholds: { quietMs: quiet },
    observedAtMs: oom.atMs,
    detail: oom.message ?? '',
  };
}

export function eventConditions(ctx: RuleContext): Condition[] {
  if (!ctx.config.events.enabled) return [];
  const out: Condition[] = [];
  for (const p of ctx.obs.processes.values()) if (p.lastOom) out.push(oomCondition(ctx, p.lastOom, p.gpuUuid));
  for (const o of ctx.obs.orphanOoms) if (ctx.nowMs - o.atMs < ctx.config.events.oomQuietMs) out.push(oomCondition(ctx, o, null));
  for (const [uuid, gpu] of ctx.obs.gpus) {
    const g = gpu.latest;
    const bad = g.health !== 'ok';
    out.push({
      key: `gpu-health:${uuid}`,
      rule: 'gpu-health',
      subject: { gpuUuid: uuid, gpuIndex: g.index, pid: null },
      severity: bad ? 'critical' : null,
      clear: !bad,
      forMs: NO_HOLD,
      summary: `${gpuLabel(g.index, uuid)}: ${g.health === 'lost' ? 'GPU is lost (fell off the bus)' : g.health === 'reset-required' ? 'GPU requires a reset' : 'nvidia-smi reports an unknown error for this GPU'}`,
      values: { health: g.health },
      thresholds: { expected: 'ok' },
      observedAtMs: g.timestampMs,
    });
  }
  return out;
}

export function sourceConditions(ctx: SourceContext): Condition[] {
  if (!ctx.config.events.enabled || !ctx.source) return [];
  const s = ctx.source;
  const age = ctx.lastSampleAgeMs;
  const stale = s.status === 'stale' || (s.status === 'running' && age !== null && age > ctx.config.events.staleAfterMs);
  const failing = s.status === 'error';
  const what = s.kind === 'live' ? 'nvidia-smi' : 'the replay';
  return [
    {
      key: 'source',
      rule: 'source',
      subject: { gpuUuid: null, gpuIndex: null, pid: null },
      severity: failing ? 'critical' : stale ? 'warning' : null,
      clear: !failing && !stale && s.status !== 'starting',
      forMs: NO_HOLD,
      summary: failing
        ? `${what} is failing: ${s.message ?? 'no detail'}`
        : `no GPU sample for ${formatDuration(age)}: the data is stale${s.message ? ` (${s.message})` : ''}`,
      values: { status: s.status, kind: s.kind, lastSampleAgeMs: age, message: s.message },
      thresholds: { staleAfterMs: ctx.config.events.staleAfterMs },
      observedAtMs: ctx.nowMs,
    },
  ];
}
