/**
 * Keeps what attribution needs from the record stream: the newest GPU samples and process rows, and per
 * PyTorch process and device the newest memory sample, weights and KV-cache bytes. Bounded: at most
 * `maxProcesses` (pid, device) states (oldest dropped), states older than `staleMs` left out of frames,
 * a process's states dropped on its `end` event, markers kept in a ring.
 */
import { attribute, markerOf, nonTorchKey, type AttributionFrame, type AttributionMarker, type TorchProcessState } from '../../shared/attribution.ts';
import type { DataRecord, GpuProcess, GpuSample, TorchEvent } from '../../shared/data.ts';
import { RingBuffer } from '../../shared/ringBuffer.ts';

export interface TrackerLimits {
  maxProcesses: number;
  staleMs: number;
  markers: number;
}

const DEFAULTS: TrackerLimits = { maxProcesses: 256, staleMs: 10_000, markers: 500 };

const key = (pid: number, device: number): string => `${pid}:${device}`;
const count = (v: unknown): number | null => (typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : null);

export class AttributionTracker {
  readonly limits: TrackerLimits;
  #gpus: GpuSample[] = [];
  #processes: GpuProcess[] = [];
  #torch = new Map<string, TorchProcessState>();
  /** Weights/KV reported before the process's first sample on that device. */
  #pending = new Map<string, { weightsBytes: number | null; kvCacheBytes: number | null }>();
  #markers: RingBuffer<AttributionMarker>;
  #newMarkers: AttributionMarker[] = [];
  #lastGpuT: number | null = null;
  /** Last plausible non-PyTorch bytes per process and GPU, for frames where the process row is stale. */
  #heldNonTorch = new Map<string, number>();

  constructor(limits: Partial<TrackerLimits> = {}) {
    this.limits = { ...DEFAULTS, ...limits };
    this.#markers = new RingBuffer(this.limits.markers);
  }

  /** Feed one record; answers true when a frame is due (a new GPU tick, or a torch sample with no GPU data). */
  ingest(r: DataRecord): boolean {
    switch (r.kind) {
      case 'gpu':
        if (this.#lastGpuT !== null && r.t < this.#lastGpuT - 60_000) this.reset(); // a new source or replay from the top
        this.#lastGpuT = r.t;
        this.#gpus = r.gpus;
        return true;
      case 'processes':
        this.#processes = r.processes;
        return false;
      case 'torch': {
        const s = r.sample;
        const k = key(s.pid, s.device);
        const prev = this.#torch.get(k);
        if (prev && prev.sample.timestampMs > s.timestampMs) return false; // an older point (profiler trace import)
        const pending = this.#pending.get(k);
        this.#pending.delete(k);
        this.#torch.delete(k);
        this.#torch.set(k, {
          sample: s,
          weightsBytes: prev?.weightsBytes ?? pending?.weightsBytes ?? null,
          kvCacheBytes: prev?.kvCacheBytes ?? pending?.kvCacheBytes ?? null,
        });
        while (this.#torch.size > this.limits.maxProcesses) this.#torch.delete(this.#torch.keys().next().value!);
        return this.#gpus.length === 0;
      }
      case 'torchEvent':
        this.#event(r.event);
        return false;
      default:
        return false;
    }
  }

  #event(e: TorchEvent): void {
    const marker = markerOf(e);
    if (marker) {
      this.#markers.push(marker);
      this.#newMarkers.push(marker);
      if (this.#newMarkers.length > this.limits.markers) this.#newMarkers.shift();
    }
    if (e.kind === 'end') {
      for (const k of [...this.#torch.keys()]) if (k.startsWith(`${e.pid}:`)) this.#torch.delete(k);
      for (const k of [...this.#heldNonTorch.keys()]) if (k.startsWith(`${e.pid}@`)) this.#heldNonTorch.delete(k);
      return;
    }
    if (e.device === null) return; // CPU-side weights, or an event of no device
    const weights = e.kind === 'weights' ? count(e.facts.total_bytes) : e.kind === 'phase' ? count(e.facts.weight_bytes) : null;
    const kv = e.kind === 'kv_cache' ? count(e.facts.bytes) : e.kind === 'phase' ? count(e.facts.kv_bytes) : null;
    if (weights === null && kv === null) return;
    const k = key(e.pid, e.device);
    const state = this.#torch.get(k);
    if (state) {
      if (weights !== null) state.weightsBytes = weights;
      if (kv !== null) state.kvCacheBytes = kv;
    } else {
      const p = this.#pending.get(k) ?? { weightsBytes: null, kvCacheBytes: null };
      if (weights !== null) p.weightsBytes = weights;
      if (kv !== null) p.kvCacheBytes = kv;
      this.#pending.set(k, p);
      while (this.#pending.size > this.limits.maxProcesses) this.#pending.delete(this.#pending.keys().next().value!);
    }
  }

  /** The frame now, with the markers that arrived since the last frame. */
  frame(): AttributionFrame {
    const newest = Math.max(this.#lastGpuT ?? 0, ...[...this.#torch.values()].map((s) => s.sample.timestampMs));
    const fresh = [...this.#torch.values()].filter((s) => newest - s.sample.timestampMs <= this.limits.staleMs);
    const markers = this.#newMarkers;
    this.#newMarkers = [];
    const frame = attribute({ timestampMs: newest, gpus: this.#gpus, processes: this.#processes, torch: fresh, markers, heldNonTorch: this.#heldNonTorch });
    for (const g of frame.gpus) {
      for (const p of g.processes) {
        if (p.nonTorchSource !== 'measured' || p.nonTorchBytes === null) continue;
        const k = nonTorchKey(p.pid, g.uuid);
        this.#heldNonTorch.delete(k);
        this.#heldNonTorch.set(k, p.nonTorchBytes);
      }
    }
    while (this.#heldNonTorch.size > this.limits.maxProcesses) this.#heldNonTorch.delete(this.#heldNonTorch.keys().next().value!);
    return frame;
  }

  markers(): AttributionMarker[] {
    return this.#markers.toArray();
  }

  reset(): void {
    this.#gpus = [];
    this.#processes = [];
    this.#torch.clear();
    this.#pending.clear();
    this.#heldNonTorch.clear();
    this.#newMarkers = [];
    this.#lastGpuT = null;
  }
}
