/**
 * What the alert rules read, kept from the hub's records: per GPU the newest sample and a bounded series of
 * occupied memory (total − free); per PyTorch process its newest sample, when its allocation retries last
 * grew, its OOMs, and the calibration of this run (see calibration.ts). Pure state, fed one record at a time.
 */
import { matchRow } from '../../shared/attribution.ts';
import type { DataRecord, GpuProcess, GpuSample, TorchEvent, TorchSample } from '../../shared/data.ts';
import { RingBuffer } from '../../shared/ringBuffer.ts';
import { Calibration } from './calibration.ts';
import type { Point } from './envelope.ts';
import type { Condition } from './rules/types.ts';

export interface OomSeen {
  atMs: number;
  pid: number;
  message: string | null;
  /** `numOoms` after it, when the sample reported one. */
  count: number | null;
}

export interface ProcessObs {
  pid: number;
  device: number;
  /** From the sample, the process list, or the only GPU; null while unknown. */
  gpuUuid: string | null;
  latest: TorchSample;
  /** Newest time `numAllocRetries` rose, and by how much in total since first seen. */
  retriesRoseAtMs: number | null;
  retriesBaseline: number | null;
  lastOom: OomSeen | null;
  calibration: Calibration;
}

export interface GpuObs {
  latest: GpuSample;
  /** Occupied bytes (total − free) over time, for the growth forecast. */
  occupied: RingBuffer<Point>;
  /** The forecast's trend condition for `sample` (recomputed only when a new sample arrives). */
  trend?: { sample: GpuSample; condition: Condition | null };
}

/** ~10 min at 4 Hz; the forecast window is far shorter. */
const SERIES_CAPACITY = 2400;
const PROCESS_SILENT_MS = 30_000;
const MAX_ORPHAN_OOMS = 16;

export class Observations {
  readonly gpus = new Map<string, GpuObs>();
  readonly processes = new Map<number, ProcessObs>();
  gpuProcesses: GpuProcess[] = [];
  lastGpuRecordMs: number | null = null;
  /** Newest record time seen: the clock of the rules. */
  nowMs = 0;

  ingest(r: DataRecord): void {
    this.nowMs = Math.max(this.nowMs, r.t);
    switch (r.kind) {
      case 'gpu':
        this.lastGpuRecordMs = r.t;
        for (const g of r.gpus) this.#gpu(g);
        this.#forgetSilent(r.t);
        break;
      case 'processes':
        this.gpuProcesses = r.processes;
        for (const p of this.processes.values()) {
          p.gpuUuid ??= this.#uuidOf(p.pid, p.latest);
          const smi = r.processes.find((q) => q.pid === p.pid && q.gpuUuid === p.gpuUuid);
          if (smi?.usedBytes != null) p.calibration.nonTorch(smi.usedBytes, p.latest.reservedBytes);
        }
        break;
      case 'torch':
        this.#torch(r.sample);
        break;
      case 'torchEvent':
        this.#event(r.event);
        break;
      default:
        break;
    }
  }

  #gpu(g: GpuSample): void {
    let obs = this.gpus.get(g.uuid);
    if (!obs) this.gpus.set(g.uuid, (obs = { latest: g, occupied: new RingBuffer(SERIES_CAPACITY) }));
    obs.latest = g;
    if (g.totalBytes !== null && g.freeBytes !== null) obs.occupied.push({ t: g.timestampMs, v: g.totalBytes - g.freeBytes });
  }

  /** A process with no memory sample for PROCESS_SILENT_MS is gone (killed without an `end` event). */
  #forgetSilent(nowMs: number): void {
    for (const [pid, p] of this.processes) if (nowMs - p.latest.timestampMs > PROCESS_SILENT_MS) this.processes.delete(pid);
  }

  /** The GPU of a PyTorch process, joined as the attribution joins it (UUID, the pid's only GPU, index). */
  #uuidOf(pid: number, s: TorchSample | null): string | null {
    if (s?.uuid && this.gpus.has(s.uuid)) return s.uuid;
    if (s) {
      const { row } = matchRow({ sample: s, weightsBytes: null, kvCacheBytes: null }, this.gpuProcesses, [...this.gpus.values()].map((g) => g.latest));
      if (row) return row.gpuUuid;
    }
    if (this.gpus.size === 1) return [...this.gpus.keys()][0] ?? null;
    return null;
  }

  #process(pid: number, s: TorchSample): ProcessObs {
    let p = this.processes.get(pid);
    if (!p) {
      p = {
        pid,
        device: s.device,
        gpuUuid: this.#uuidOf(pid, s),
        latest: s,
        retriesRoseAtMs: null,
        retriesBaseline: s.numAllocRetries,
        lastOom: null,
        calibration: new Calibration(),
      };
      this.processes.set(pid, p);
    }
    return p;
  }

  #torch(s: TorchSample): void {
    const known = this.processes.get(s.pid);
    const p = this.#process(s.pid, s);
    const prev = known ? known.latest : null;
    p.gpuUuid ??= this.#uuidOf(s.pid, s);
    if (prev && s.numAllocRetries !== null && prev.numAllocRetries !== null && s.numAllocRetries > prev.numAllocRetries) {
      p.retriesRoseAtMs = s.timestampMs;
    }
    if (prev && s.numOoms !== null && prev.numOoms !== null && s.numOoms > prev.numOoms) {
      p.lastOom = { atMs: s.timestampMs, pid: s.pid, message: p.lastOom?.message ?? null, count: s.numOoms };
    }
    p.latest = s;
    p.calibration.sample(s);
  }

  #event(e: TorchEvent): void {
    const p = this.processes.get(e.pid);
    if (e.kind === 'oom') {
      const target = p ?? null;
      const seen: OomSeen = { atMs: e.timestampMs, pid: e.pid, message: e.message, count: target?.latest.numOoms ?? null };
      // The sample that reported numOoms and the logged event are one OOM: keep the earlier time.
      if (target) {
        const recent = target.lastOom && e.timestampMs - target.lastOom.atMs < 5_000 && target.lastOom.message === null;
        target.lastOom = recent && target.lastOom ? { ...target.lastOom, message: e.message } : seen;
        target.calibration.event(e); // the request that hit it is over
      } else {
        this.orphanOoms.push(seen);
        if (this.orphanOoms.length > MAX_ORPHAN_OOMS) this.orphanOoms.shift();
      }
      return;
    }
    if (!p) return;
    // A process that ended is forgotten: its alerts resolve, and a new process with its pid starts afresh.
    if (e.kind === 'end') this.processes.delete(e.pid);
    else p.calibration.event(e);
  }

  /** OOM events from processes that sent no memory samples (kept until a rule reads them). */
  orphanOoms: OomSeen[] = [];

  /** The process's share of its GPU as nvidia-smi counts it, or null. */
  smiUsedBytes(pid: number, uuid: string | null): number | null {
    return this.gpuProcesses.find((q) => q.pid === pid && (uuid === null || q.gpuUuid === uuid))?.usedBytes ?? null;
  }
}
