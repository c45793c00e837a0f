/**
 * Client state as a rune class fed by the one typed socket: connection and source state, newest GPU samples,
 * processes, host, PyTorch samples and events, and the bounded series the charts draw. Series live in
 * `Series` buffers (appended in place, dropped in chunks) and are published as `$state.raw` views whose
 * version changes on every tick, so nothing deep-proxies an hour of points.
 */
import type { AgentModel, DashboardAlertSettings, GpuTick, ProcessesUpdate, Snapshot } from '../../../shared/contract.ts';
import type { GpuProcess, GpuSample, HostSample, Inventory, TorchEvent, TorchSample } from '../../../shared/data.ts';
import { RingBuffer } from '../../../shared/ringBuffer.ts';
import type { SourceState } from '../../../shared/source.ts';
import { gpuUuidOfTorch, type JoinedBy } from './join.ts';
import type { GpuAttribution } from '../../../shared/attribution.ts';
import { attributeGpus } from './measuredSplit.ts';
import { markersFromEvents, markersOn, processChangeMarkers, type Marker } from './markers.ts';
import { applyEvent, type ProcessFacts } from './processFacts.ts';
import { SERIES_CAPACITY, SeriesSet, viewOf, type SeriesView } from './series.ts';
import type { HeadroomSocket } from './socket.ts';

export type ConnectionState = 'connecting' | 'connected' | 'disconnected';
/** What the banner and the header show: the data's freshness, not only the socket's. */
export type FeedState = 'live' | 'replay' | 'stale' | 'disconnected' | 'waiting';

export const EVENT_CAPACITY = 2000;
export const NVML_MARKER_CAPACITY = 500;
/** No GPU tick for this long (wall clock) while connected means the data is stale. */
export const STALE_AFTER_MS = 5000;
/** A PyTorch sample older than this (sample time) no longer counts in the split, as on the agent. */
export const TORCH_STALE_MS = 10_000;
/** A PyTorch process silent this long has its series dropped (the history the page keeps: 1 h). */
export const TORCH_RETIRE_MS = 3_600_000;
/** At most this many PyTorch processes keep series in the page. */
export const MAX_TORCH_PROCESSES = 64;

export interface TorchSeries {
  pid: number;
  uuid: string;
  joinedBy: JoinedBy;
  allocated: SeriesView;
  reserved: SeriesView;
}

export interface GpuSeries {
  used: SeriesView;
  torch: TorchSeries[];
}

export class Dashboard {
  connection = $state<ConnectionState>('connecting');
  connectionError = $state<string | null>(null);
  source = $state.raw<SourceState | null>(null);
  gpus = $state.raw<GpuSample[]>([]);
  processes = $state.raw<GpuProcess[]>([]);
  host = $state.raw<HostSample | null>(null);
  inventory = $state.raw<Inventory | null>(null);
  events = $state.raw<TorchEvent[]>([]);
  markers = $state.raw<Marker[]>([]);
  /** Facts per PyTorch pid (model, weights, request in flight), folded from events. */
  facts = $state.raw<Record<number, ProcessFacts>>({});
  /** Newest PyTorch sample per pid. */
  torchLatest = $state.raw<Record<number, TorchSample>>({});
  /** Per GPU uuid: the series views the charts draw. */
  series = $state.raw<Record<string, GpuSeries>>({});
  /** The model given to the agent with --model (resolved there), or null. */
  agentModel = $state.raw<AgentModel | null>(null);
  /** The agent's alert thresholds and configured maximum (null: the defaults). */
  alertSettings = $state.raw<DashboardAlertSettings | null>(null);
  lastTickMs = $state<number | null>(null);
  lastTickWallMs = $state<number | null>(null);
  wallNowMs = $state(Date.now());

  /** The measured split per GPU uuid, by the agent's attribution function, over live PyTorch processes. */
  readonly attribution: Record<string, GpuAttribution> = $derived.by(() => {
    const newest = Math.max(0, ...this.gpus.map((g) => g.timestampMs));
    const torch = Object.values(this.torchLatest).filter((s) => this.facts[s.pid]?.endedMs == null && newest - s.timestampMs <= TORCH_STALE_MS);
    const frames = attributeGpus({ gpus: this.gpus, processes: this.processes, torch, facts: this.facts });
    return Object.fromEntries(frames.map((a) => [a.uuid, a]));
  });

  readonly feed: FeedState = $derived.by(() => {
    if (this.connection === 'disconnected') return 'disconnected';
    if (this.lastTickWallMs === null) return 'waiting';
    if (this.source?.status === 'stale' || this.wallNowMs - this.lastTickWallMs > STALE_AFTER_MS) return 'stale';
    return this.source?.kind === 'replay' ? 'replay' : 'live';
  });

  #used: SeriesSet;
  #allocated: SeriesSet;
  #reserved: SeriesSet;
  #torchGpu = new Map<number, { uuid: string; joinedBy: JoinedBy }>();
  #events = new RingBuffer<TorchEvent>(EVENT_CAPACITY);
  #nvmlMarkers = new RingBuffer<Marker>(NVML_MARKER_CAPACITY);
  #facts = new Map<number, ProcessFacts>();
  #pids = new Map<number, string>();
  #dirty = false;

  constructor(capacity = SERIES_CAPACITY) {
    this.#used = new SeriesSet(capacity);
    this.#allocated = new SeriesSet(capacity);
    this.#reserved = new SeriesSet(capacity);
  }

  processesOf(uuid: string): GpuProcess[] {
    return this.processes.filter((p) => p.gpuUuid === uuid);
  }

  gpu(uuid: string): GpuSample | undefined {
    return this.gpus.find((g) => g.uuid === uuid);
  }

  /** The GPU a PyTorch pid's samples were joined to, or null. */
  gpuOfPid(pid: number): string | null {
    return this.#torchGpu.get(pid)?.uuid ?? this.processes.find((p) => p.pid === pid)?.gpuUuid ?? null;
  }

  /** Markers for one GPU's chart and event list. */
  markersOf(gpu: GpuSample): Marker[] {
    return markersOn(this.markers, gpu, (pid) => this.gpuOfPid(pid));
  }

  /** PyTorch pids drawn on this GPU. */
  torchPidsOf(uuid: string): number[] {
    return (this.series[uuid]?.torch ?? []).map((t) => t.pid);
  }

  attach(socket: HeadroomSocket): () => void {
    socket.on('connect', () => {
      this.connection = 'connected';
      this.connectionError = null;
    });
    socket.on('disconnect', () => (this.connection = 'disconnected'));
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
    socket.on('torch', (samples) => this.applyTorch(samples));
    socket.on('torchEvent', (e) => this.applyEvents([e]));
    const clock = setInterval(() => (this.wallNowMs = Date.now()), 1000);
    return () => {
      clearInterval(clock);
      socket.removeAllListeners();
    };
  }

  applySnapshot(s: Snapshot): void {
    this.source = s.source;
    this.agentModel = s.agentModel ?? null;
    this.alertSettings = s.alertSettings ?? null;
    this.gpus = s.gpus;
    this.processes = s.processes;
    this.host = s.host;
    this.inventory = s.inventory;
    this.#used.clear();
    this.#allocated.clear();
    this.#reserved.clear();
    this.#torchGpu.clear();
    this.#events.clear();
    this.#nvmlMarkers.clear();
    this.#facts.clear();
    for (const h of s.history) {
      const used = this.#used.get(h.uuid);
      for (const g of h.samples) if (g.usedBytes !== null) used.push(g.timestampMs, g.usedBytes);
    }
    this.#pids = new Map(s.processes.map((p) => [p.pid, p.gpuUuid]));
    this.#ingestTorch(s.torchSamples);
    this.#ingestEvents(s.torchEvents);
    this.lastTickMs = s.gpus[0]?.timestampMs ?? null;
    this.lastTickWallMs = s.gpus.length > 0 ? Date.now() : null;
    this.#publish();
  }

  applyTick(t: GpuTick): void {
    const byUuid = new Map(this.gpus.map((g) => [g.uuid, g]));
    for (const g of t.gpus) {
      byUuid.set(g.uuid, g);
      if (g.usedBytes !== null) this.#used.get(g.uuid).push(g.timestampMs, g.usedBytes);
    }
    this.gpus = [...byUuid.values()].sort((a, b) => a.index - b.index);
    this.lastTickMs = t.timestampMs;
    this.lastTickWallMs = Date.now();
    this.#publish();
  }

  applyProcesses(p: ProcessesUpdate): void {
    const next = new Map(p.processes.map((x) => [x.pid, x.gpuUuid]));
    const covered = new Set(this.#facts.keys());
    for (const m of processChangeMarkers(this.#pids, next, p.timestampMs, covered)) this.#nvmlMarkers.push(m);
    this.#pids = next;
    this.processes = p.processes;
    this.#refreshMarkers();
  }

  applyTorch(samples: readonly TorchSample[]): void {
    this.#ingestTorch(samples);
    this.#publishLater();
  }

  applyEvents(events: readonly TorchEvent[]): void {
    this.#ingestEvents(events);
  }

  #ingestTorch(samples: readonly TorchSample[]): void {
    if (samples.length === 0) return;
    const latest = { ...this.torchLatest };
    for (const s of samples) {
      latest[s.pid] = s;
      const key = String(s.pid);
      this.#allocated.get(key).push(s.timestampMs, s.allocatedBytes);
      this.#reserved.get(key).push(s.timestampMs, s.reservedBytes);
      const joined = gpuUuidOfTorch(s, this.processes, this.gpus);
      if (joined) this.#torchGpu.set(s.pid, joined);
    }
    this.torchLatest = latest;
  }

  #ingestEvents(events: readonly TorchEvent[]): void {
    for (const e of events) {
      this.#events.push(e);
      const f = applyEvent(this.#facts.get(e.pid), e);
      this.#facts.delete(e.pid); // re-insert: the Map's order is then least recently heard from first
      this.#facts.set(e.pid, f);
      if (this.#facts.size > 2 * MAX_TORCH_PROCESSES) this.#facts.delete(this.#facts.keys().next().value as number);
    }
    this.events = this.#events.toArray();
    this.facts = Object.fromEntries(this.#facts);
    this.#refreshMarkers();
  }

  /** Replace the markers only when they changed, so charts do not redraw for nothing. */
  #refreshMarkers(): void {
    const next = [...markersFromEvents(this.events), ...this.#nvmlMarkers.toArray()].sort((a, b) => a.atMs - b.atMs);
    const prev = this.markers;
    const same = next.length === prev.length && next.every((m, i) => m.atMs === prev[i]?.atMs && m.kind === prev[i]?.kind && m.endMs === prev[i]?.endMs);
    if (!same) this.markers = next;
  }

  /** Torch samples arrive one at a time: publish with the next GPU tick, or after a short delay without one. */
  #publishLater(): void {
    if (this.#dirty) return;
    this.#dirty = true;
    setTimeout(() => {
      if (this.#dirty) this.#publish();
    }, 250);
  }

  /**
   * Retire the series of PyTorch processes that are gone: ended (or silent) for longer than the history the
   * page keeps, and beyond MAX_TORCH_PROCESSES the longest silent first. Their facts go with them.
   */
  #retireTorch(newestMs: number): void {
    const lastOf = (pid: number): number => this.#allocated.peek(String(pid))?.last?.x ?? -Infinity;
    const pids = [...this.#torchGpu.keys()].sort((a, b) => lastOf(a) - lastOf(b));
    const gone = pids.filter((pid, i) => newestMs - lastOf(pid) > TORCH_RETIRE_MS || pids.length - i > MAX_TORCH_PROCESSES);
    if (gone.length === 0) return;
    const latest = { ...this.torchLatest };
    for (const pid of gone) {
      this.#torchGpu.delete(pid);
      this.#allocated.delete(String(pid));
      this.#reserved.delete(String(pid));
      this.#facts.delete(pid);
      delete latest[pid];
    }
    this.torchLatest = latest;
    this.facts = Object.fromEntries(this.#facts);
  }

  #publish(): void {
    this.#dirty = false;
    this.#retireTorch(this.lastTickMs ?? 0);
    const out: Record<string, GpuSeries> = {};
    for (const g of this.gpus) {
      const torch: TorchSeries[] = [];
      for (const [pid, j] of this.#torchGpu) {
        if (j.uuid !== g.uuid) continue;
        const key = String(pid);
        torch.push({
          pid,
          uuid: g.uuid,
          joinedBy: j.joinedBy,
          allocated: viewOf(key, `PyTorch allocated · ${pid}`, this.#allocated.get(key)),
          reserved: viewOf(key, `PyTorch reserved · ${pid}`, this.#reserved.get(key)),
        });
      }
      out[g.uuid] = { used: viewOf(g.uuid, 'used (nvidia-smi)', this.#used.get(g.uuid)), torch };
    }
    this.series = out;
  }
}
