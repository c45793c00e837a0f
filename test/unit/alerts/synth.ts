/** Synthetic records for the alert rules' unit tests: one GPU, one PyTorch process, times in ms. */
import type { DataRecord, GpuSample, TorchSample } from '../../../shared/data.ts';
import { GiB } from '../../../shared/units.ts';
import { AlertConfigSchema, type AlertConfig, type AlertConfigInput, type AlertEvent } from '../../../shared/alerts.ts';
import { AlertEngine } from '../../../server/alerts/engine.ts';

export const UUID = 'GPU-00000000-1111-2222-3333-444444444444';
export const TOTAL = 80 * GiB;

export function gpu(t: number, freeBytes: number, extra: Partial<GpuSample> = {}): DataRecord {
  const reserved = 512 * 1024 * 1024;
  return {
    kind: 'gpu',
    t,
    gpus: [{
      timestampMs: t, index: 0, uuid: UUID, name: 'Test GPU', busId: null, totalBytes: TOTAL, reservedBytes: reserved,
      usedBytes: Math.max(0, TOTAL - reserved - freeBytes), freeBytes, utilizationGpuPercent: null, utilizationMemoryPercent: null,
      temperatureC: null, powerDrawW: null, powerLimitW: null, pstate: null, health: 'ok', ...extra,
    }],
  };
}

export function torch(t: number, allocatedBytes: number, reservedBytes: number, extra: Partial<TorchSample> = {}): DataRecord {
  return {
    kind: 'torch',
    t,
    sample: {
      timestampMs: t, pid: 100, device: 0, uuid: UUID, phase: 'serving', allocatedBytes, reservedBytes, activeBytes: null,
      inactiveSplitBytes: null, peakAllocatedBytes: null, numAllocRetries: 0, numOoms: 0, ...extra,
    },
  };
}

export function event(t: number, kind: string, facts: Record<string, unknown> = {}, extra: { name?: string; message?: string; pid?: number } = {}): DataRecord {
  return {
    kind: 'torchEvent',
    t,
    event: { timestampMs: t, pid: extra.pid ?? 100, device: 0, kind, name: extra.name ?? null, message: extra.message ?? null, facts },
  };
}

export function config(input: AlertConfigInput = {}): AlertConfig {
  return AlertConfigSchema.parse(input);
}

/** Feed records into a fresh engine; return every state change. */
export function run(records: DataRecord[], input: AlertConfigInput = {}, engine = new AlertEngine({ config: config(input) })): { engine: AlertEngine; events: AlertEvent[] } {
  const events: AlertEvent[] = [];
  engine.onEvent((e) => events.push(e));
  for (const r of records) engine.ingest(r);
  return { engine, events };
}

/** `transition rule severity @t` lines, for readable assertions. */
export function story(events: AlertEvent[], t0 = 0): string[] {
  return events.map((e) => `${e.transition} ${e.alert.key.split(':').slice(0, 2).join(':')} ${e.alert.severity} @${((e.atMs - t0) / 1000).toFixed(1)}`);
}
