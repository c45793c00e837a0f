/**
 * Client state as a rune class fed by the socket: connection, source, newest GPU samples, per-GPU series
 * (bounded ring buffers exposed as `$state.raw` arrays replaced on each tick), processes and PyTorch events.
 */
import type { GpuTick, ProcessesUpdate, Snapshot } from '../../../shared/contract.ts';
import type { GpuProcess, GpuSample, HostSample, Inventory, TorchEvent } from '../../../shared/data.ts';
import { RingBuffer } from '../../../shared/ringBuffer.ts';
import type { SourceState } from '../../../shared/source.ts';
import type { HeadroomSocket } from './socket.ts';

/** Points kept per GPU series in the page (about 25 min at 4 Hz, 10 min at 10 Hz). */
export const SERIES_CAPACITY = 6000;

export interface Point {
  x: number;
  y: number;
}

export type ConnectionState = 'connecting' | 'connected' | 'disconnected';

export class Dashboard {
  connection = $state<ConnectionState>('connecting');
  connectionError = $state<string | null>(null);
  source = $state<SourceState | null>(null);
  gpus = $state.raw<GpuSample[]>([]);
  processes = $state.raw<GpuProcess[]>([]);
  host = $state.raw<HostSample | null>(null);
  inventory = $state.raw<Inventory | null>(null);
  events = $state.raw<TorchEvent[]>([]);
  /** Used bytes per GPU uuid, as chart points (x: epoch ms, y: bytes). */
  usedSeries = $state.raw<Record<string, Point[]>>({});
  lastTickMs = $state<number | null>(null);

  #rings = new Map<string, RingBuffer<Point>>();
  #events = new RingBuffer<TorchEvent>(500);

  processesOf(uuid: string): GpuProcess[] {
    return this.processes.filter((p) => p.gpuUuid === uuid);
  }

  attach(socket: HeadroomSocket): () => void {
    socket.on('connect', () => {
      this.connection = 'connected';
      this.connectionError = null;
    });
    socket.on('disconnect', () => {
      this.connection = 'disconnected';
    });
    socket.on('connect_error', (e) => {
      this.connection = 'disconnected';
      this.connectionError = e.message;
    });
    socket.on('snapshot', (s) => this.applySnapshot(s));
    socket.on('gpu', (t) => this.applyTick(t));
    socket.on('processes', (p) => this.applyProcesses(p));
    socket.on('host', (h) => (this.host = h));
    socket.on('inventory', (inv) => (this.inventory = inv));
    socket.on('source', (s) => (this.source = s));
    socket.on('torchEvent', (e) => {
      this.#events.push(e);
      this.events = this.#events.toArray();
    });
    return () => socket.removeAllListeners();
  }

  applySnapshot(s: Snapshot): void {
    this.source = s.source;
    this.gpus = s.gpus;
    this.processes = s.processes;
    this.host = s.host;
    this.inventory = s.inventory;
    this.#rings.clear();
    for (const h of s.history) {
      const ring = this.#ring(h.uuid);
      for (const sample of h.samples) if (sample.usedBytes !== null) ring.push({ x: sample.timestampMs, y: sample.usedBytes });
    }
    this.#events.clear();
    for (const e of s.torchEvents) this.#events.push(e);
    this.events = this.#events.toArray();
    this.lastTickMs = s.gpus[0]?.timestampMs ?? null;
    this.#publishSeries();
  }

  applyTick(t: GpuTick): void {
    const byUuid = new Map(this.gpus.map((g) => [g.uuid, g]));
    for (const g of t.gpus) {
      byUuid.set(g.uuid, g);
      if (g.usedBytes !== null) this.#ring(g.uuid).push({ x: g.timestampMs, y: g.usedBytes });
    }
    this.gpus = [...byUuid.values()].sort((a, b) => a.index - b.index);
    this.lastTickMs = t.timestampMs;
    this.#publishSeries();
  }

  applyProcesses(p: ProcessesUpdate): void {
    this.processes = p.processes;
  }

  #ring(uuid: string): RingBuffer<Point> {
    let r = this.#rings.get(uuid);
    if (!r) this.#rings.set(uuid, (r = new RingBuffer<Point>(SERIES_CAPACITY)));
    return r;
  }

  #publishSeries(): void {
    const out: Record<string, Point[]> = {};
    for (const [uuid, ring] of this.#rings) out[uuid] = ring.toArray();
    this.usedSeries = out;
  }
}
