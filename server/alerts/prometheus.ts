/**
 * Prometheus alerting rules for the same thresholds as the agent's engine (`headroom alert-rules`), for
 * Alertmanager users. Device memory rules use dcgm-exporter's names (DCGM_FI_DEV_FB_FREE / _USED /
 * _RESERVED, MiB, labels gpu, UUID, Hostname), so they work today against dcgm-exporter; the PyTorch,
 * prediction and source rules use the headroom_* names planned for Headroom's future /metrics endpoint
 * (landscape.md §4.4: bytes, labels joinable with DCGM on UUID). Differences from the agent: Prometheus fits
 * growth with least squares (deriv) on the envelope, not Theil–Sen, and the per-request "will not fit"
 * forecast needs the agent's calibration, so it is exported as headroom_time_to_oom_seconds instead.
 */
import { stringify } from 'yaml';
import type { AlertConfig } from '../../shared/alerts.ts';
import { GiB, MiB } from '../../shared/units.ts';

interface PromRule {
  alert: string;
  expr: string;
  for?: string;
  keep_firing_for?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/** Prometheus duration: whole seconds, at least 0s. */
function dur(ms: number): string {
  return `${Math.max(0, Math.round(ms / 1000))}s`;
}

/** Prometheus prints numbers plainly; keep integers integral and fractions short. */
function n(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toFixed(4).replace(/0+$/, '').replace(/\.$/, '');
}

const TOTAL = '(DCGM_FI_DEV_FB_FREE + DCGM_FI_DEV_FB_USED + DCGM_FI_DEV_FB_RESERVED)';

/** free below the level's absolute or relative threshold (MiB, as DCGM reports). */
function freeBelow(level: AlertConfig['headroom']['warning'], extraPercent = 0): string {
  const parts: string[] = [];
  if (level.freeBelowPercent !== null) parts.push(`DCGM_FI_DEV_FB_FREE < ${TOTAL} * ${n((level.freeBelowPercent + extraPercent) / 100)}`);
  if (level.freeBelowGiB !== null) {
    const abs = `DCGM_FI_DEV_FB_FREE < ${n((level.freeBelowGiB * GiB) / MiB)}`;
    parts.push(extraPercent > 0 ? `DCGM_FI_DEV_FB_FREE < ${n((level.freeBelowGiB * GiB) / MiB)} + ${TOTAL} * ${n(extraPercent / 100)}` : abs);
  }
  return parts.map((p) => `(${p})`).join(' or ');
}

function headroomRules(c: AlertConfig): PromRule[] {
  const h = c.headroom;
  const name = 'HeadroomGpuFreeMemoryLow';
  const still = (sev: string): string =>
    `((${freeBelow(h.warning, h.hysteresisPercent)}) and ignoring(alertname, alertstate, severity, rule) ALERTS{alertname="${name}", alertstate="firing", severity="${sev}"})`;
  return (['warning', 'critical'] as const).map((sev) => ({
    alert: name,
    // Hysteresis: once firing, it keeps firing until free rises above the warning threshold plus the band.
    expr: `(${freeBelow(h[sev])}) or ${still(sev)}`,
    for: dur(h[sev].forMs),
    labels: { severity: sev, rule: 'headroom' },
    annotations: {
      summary: `GPU {{ $labels.gpu }} ({{ $labels.UUID }}): free memory low`,
      description: `{{ $value }} MiB free; ${sev} below ${[h[sev].freeBelowPercent !== null ? `${h[sev].freeBelowPercent} %` : null, h[sev].freeBelowGiB !== null ? `${h[sev].freeBelowGiB} GiB` : null].filter(Boolean).join(' or ')}, cleared above the warning threshold + ${h.hysteresisPercent} % of total.`,
    },
  }));
}

function forecastRules(c: AlertConfig): PromRule[] {
  const f = c.forecast;
  const bucket = dur(Math.max(f.bucketMs, 15_000));
  const envelope = `max_over_time(DCGM_FI_DEV_FB_USED[${bucket}]) + max_over_time(DCGM_FI_DEV_FB_RESERVED[${bucket}])`;
  const growth = `deriv((${envelope})[${dur(f.windowMs)}:${bucket}])`;
  const minGrowthMiB = n(f.minGrowthBytesPerSecond / MiB);
  const room = `(DCGM_FI_DEV_FB_FREE - ${n((f.marginGiB * GiB) / MiB)})`;
  return [
    {
      alert: 'HeadroomGpuOutOfMemorySoon',
      expr: `(${room} / ${growth} < ${n(f.timeToOomBelowMs / 1000)}) and (${growth} > ${minGrowthMiB})`,
      for: dur(f.forMs),
      labels: { severity: 'critical', rule: 'forecast' },
      annotations: {
        summary: 'GPU {{ $labels.gpu }} ({{ $labels.UUID }}): out of memory soon at the current growth',
        description: `About {{ $value | humanizeDuration }} to OOM from the growth of the used-memory envelope (max per ${bucket}, over ${dur(f.windowMs)}).`,
      },
    },
    {
      alert: 'HeadroomTimeToOomLow',
      expr: `headroom_time_to_oom_seconds < ${n(f.timeToOomBelowMs / 1000)}`,
      for: dur(f.forMs),
      labels: { severity: 'critical', rule: 'forecast' },
      annotations: {
        summary: 'GPU {{ $labels.gpu }}: Headroom forecasts an OOM in {{ $value | humanizeDuration }}',
        description: 'From the agent calibrated on this run (weights and KV reported by the PyTorch hook, transient per token seen in prefills).',
      },
    },
  ];
}

function torchRules(c: AlertConfig): PromRule[] {
  const fr = c.fragmentation;
  const d = c.drift;
  const unalloc = '(headroom_torch_reserved_bytes - headroom_torch_allocated_bytes)';
  return [
    {
      alert: 'HeadroomTorchFragmentation',
      expr: `${unalloc} > ${n(fr.unallocatedAboveGiB * GiB)} and ${unalloc} > headroom_torch_reserved_bytes * ${n(fr.unallocatedAbovePercent / 100)} and increase(headroom_torch_alloc_retries_total[${dur(fr.retryWindowMs)}]) > 0`,
      labels: { severity: 'critical', rule: 'fragmentation' },
      annotations: {
        summary: 'pid {{ $labels.pid }} on GPU {{ $labels.gpu }}: reserved but unallocated memory while allocation retries grow',
        description: '{{ $value | humanize1024 }}B reserved by PyTorch but unallocated; consider PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True.',
      },
    },
    {
      alert: 'HeadroomTorchOutOfMemory',
      expr: `increase(headroom_torch_ooms_total[${dur(c.events.oomQuietMs)}]) > 0`,
      labels: { severity: 'critical', rule: 'oom' },
      annotations: { summary: 'pid {{ $labels.pid }} on GPU {{ $labels.gpu }}: CUDA out of memory', description: 'The PyTorch process reported an OOM.' },
    },
    {
      alert: 'HeadroomPredictionDrift',
      expr: `(headroom_measured_bytes - headroom_predicted_bytes) > headroom_predicted_bytes * ${n(d.abovePercent / 100)} and (headroom_measured_bytes - headroom_predicted_bytes) > ${n(d.minExcessGiB * GiB)}`,
      labels: { severity: 'warning', rule: 'drift' },
      annotations: {
        summary: 'GPU {{ $labels.gpu }}: {{ $labels.category }} exceeds its prediction',
        description: `Measured above predicted by more than ${d.abovePercent} % and ${d.minExcessGiB} GiB.`,
      },
    },
  ];
}

function eventRules(c: AlertConfig): PromRule[] {
  return [
    {
      alert: 'HeadroomGpuLost',
      // Xid 79: fallen off the bus; 48, 94, 95: ECC errors that need a reset.
      expr: 'DCGM_FI_DEV_XID_ERRORS == 79 or DCGM_FI_DEV_XID_ERRORS == 48 or DCGM_FI_DEV_XID_ERRORS == 94 or DCGM_FI_DEV_XID_ERRORS == 95',
      labels: { severity: 'critical', rule: 'gpu-health' },
      annotations: { summary: 'GPU {{ $labels.gpu }} ({{ $labels.UUID }}): lost or needs a reset (Xid {{ $value }})', description: 'nvidia-smi shows [GPU is lost] or [GPU requires reset].' },
    },
    {
      alert: 'HeadroomSourceStale',
      expr: `time() - headroom_last_sample_timestamp_seconds > ${n(c.events.staleAfterMs / 1000)}`,
      labels: { severity: 'warning', rule: 'source' },
      annotations: { summary: 'Headroom on {{ $labels.instance }}: no GPU sample for {{ $value | humanizeDuration }}', description: 'nvidia-smi is failing or hung, or the agent stopped sampling.' },
    },
  ];
}

export function alertRules(c: AlertConfig): { groups: { name: string; rules: PromRule[] }[] } {
  const groups: { name: string; rules: PromRule[] }[] = [];
  if (c.headroom.enabled) groups.push({ name: 'headroom-device-memory', rules: headroomRules(c) });
  if (c.forecast.enabled) groups.push({ name: 'headroom-forecast', rules: forecastRules(c) });
  const torch = torchRules(c).filter((r) => (r.labels.rule === 'fragmentation' ? c.fragmentation.enabled : r.labels.rule === 'drift' ? c.drift.enabled : c.events.enabled));
  if (torch.length > 0) groups.push({ name: 'headroom-pytorch', rules: torch });
  if (c.events.enabled) groups.push({ name: 'headroom-events', rules: eventRules(c) });
  return { groups };
}

export function alertRulesYaml(c: AlertConfig): string {
  const header = [
    '# Prometheus alerting rules generated by `headroom alert-rules` for the thresholds of this configuration.',
    '# Device memory: dcgm-exporter names (DCGM_FI_DEV_FB_*, MiB). PyTorch, prediction and source rules: the',
    '# headroom_* names planned for the Headroom /metrics endpoint (bytes; labels gpu, UUID, pid, category).',
    '# Check with: promtool check rules <file>',
  ].join('\n');
  return `${header}\n${stringify(alertRules(c), { lineWidth: 0 })}`;
}
