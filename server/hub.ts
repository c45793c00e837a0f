/**
 * The agent's state: every source pushes data records here. The hub keeps bounded history (a ring buffer
 * per GPU, the newest process list, host and inventory, recent PyTorch samples and events) and fans each
 * record out to listeners (socket broadcast, recorder, attribution, alerts). A failing listener is logged
 * and never stops the others or the source.
 */
import { EMPTY_ALERTS, type AlertsSnapshot } from '../shared/alerts.ts';
import { EMPTY_ATTRIBUTION, type AttributionSnapshot } from '../shared/attribution.ts';
import type { GpuHistory, Snapshot } from '../shared/contract.ts';
import type { DataRecord, GpuProcess, GpuSample, HostSample, Inventory, TorchEvent, TorchSample } from '../shared/data.ts';
import { RingBuffer } from '../shared/ringBuffer.ts';
import type { SourceState } from '../shared/source.ts';
import { createLogger } from './log.ts';
import type { SourceSink } from './sources/types.ts';

const log = createLogger('hub');

export interface HubLimits {
  /** Samples kept per GPU (10 min at 10 Hz by default). */
  gpuHistory: number;
  /** Samples per GPU sent in the connect snapshot. */
  snapshotHistory: number;
  torchSamples: number;
  torchEvents: number;
}

export const DEFAULT_HUB_LIMITS: HubLimits = {
  gpuHistory: 6000,
  snapshotHistory: 3000,
  torchSamples: 20_000,
  torchEvents: 2000,
};

export interface HubListener {
  record?(record: DataRecord): void;
  state?(state: SourceState): void;
}

export class Hub implements SourceSink {
  readonly limits: HubLimits;
  readonly startedAtMs: number;
  readonly serverVersion: string;
  #source: SourceState;
  #gpuHistory = new Map<string, RingBuffer<GpuSample>>();
  #latestGpus: GpuSample[] = [];
  #lastGpuRecordWallMs: number | null = null;
  #processes: GpuProcess[] = [];
  #host: HostSample | null = null;
  #inventory: Inventory | null = null;
  #torchSamples: RingBuffer<TorchSample>;
  #torchEvents: RingBuffer<TorchEvent>;
  #listeners = new Set<HubListener>();
  /** Set by the alert engine: its part of the connect snapshot. */
  alertsSnapshot: () => AlertsSnapshot = () => EMPTY_ALERTS;
  /** Set by the attribution listener (server/attribution/listener.ts). */
  attributionSnapshot: () => AttributionSnapshot = () => EMPTY_ATTRIBUTION;
  readonly #now: () => number;

  constructor(options: { serverVersion: string; initialSource: SourceState; limits?: Partial<HubLimits>; now?: () => number }) {
    this.limits = { ...DEFAULT_HUB_LIMITS, ...options.limits };
    this.#now = options.now ?? Date.now;
    this.startedAtMs = this.#now();
    this.serverVersion = options.serverVersion;
    this.#source = options.initialSource;
    this.#torchSamples = new RingBuffer(this.limits.torchSamples);
    this.#torchEvents = new RingBuffer(this.limits.torchEvents);
  }

  subscribe(listener: HubListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  record(record: DataRecord): void {
    this.#store(record);
    for (const l of this.#listeners) {
      try {
        l.record?.(record);
      } catch (e) {
        log.error(`listener failed on a ${record.kind} record`, { error: String(e) });
      }
    }
  }

  state(state: SourceState): void {
    this.#source = state;
    for (const l of this.#listeners) {
      try {
        l.state?.(state);
      } catch (e) {
        log.error('listener failed on a source state', { error: String(e) });
      }
    }
  }

  #store(r: DataRecord): void {
    switch (r.kind) {
      case 'gpu': {
        this.#lastGpuRecordWallMs = this.#now();
        const byUuid = new Map(this.#latestGpus.map((g) => [g.uuid, g]));
        for (const g of r.gpus) {
          let ring = this.#gpuHistory.get(g.uuid);
          if (!ring) this.#gpuHistory.set(g.uuid, (ring = new RingBuffer(this.limits.gpuHistory)));
          ring.push(g);
          byUuid.set(g.uuid, g);
        }
        this.#latestGpus = [...byUuid.values()].sort((a, b) => a.index - b.index);
        break;
      }
      case 'processes':
        this.#processes = r.processes;
        break;
      case 'host':
        this.#host = r.host;
        break;
      case 'inventory':
        this.#inventory = r.inventory;
        break;
      case 'torch':
        this.#torchSamples.push(r.sample);
        break;
      case 'torchEvent':
        this.#torchEvents.push(r.event);
        break;
    }
  }

  /** A GPU that vanished (fell off the bus, or a new source) is retired with this. */
  retireGpu(uuid: string): void {
    this.#gpuHistory.delete(uuid);
    this.#latestGpus = this.#latestGpus.filter((g) => g.uuid !== uuid);
  }

  get source(): SourceState {
    return this.#source;
  }

  get latestGpus(): readonly GpuSample[] {
    return this.#latestGpus;
  }

  get processes(): readonly GpuProcess[] {
    return this.#processes;
  }

  get inventory(): Inventory | null {
    return this.#inventory;
  }

  gpuHistory(uuid: string, max?: number): GpuSample[] {
    return this.#gpuHistory.get(uuid)?.toArray(max) ?? [];
  }

  torchSamples(max?: number): TorchSample[] {
    return this.#torchSamples.toArray(max);
  }

  torchEvents(max?: number): TorchEvent[] {
    return this.#torchEvents.toArray(max);
  }

  /** Wall-clock age of the newest GPU record, or null before the first. */
  lastSampleAgeMs(): number | null {
    return this.#lastGpuRecordWallMs === null ? null : Math.max(0, this.#now() - this.#lastGpuRecordWallMs);
  }

  snapshot(): Snapshot {
    const history: GpuHistory[] = this.#latestGpus.map((g) => ({
      uuid: g.uuid,
      samples: this.gpuHistory(g.uuid, this.limits.snapshotHistory),
    }));
    return {
      serverVersion: this.serverVersion,
      startedAtMs: this.startedAtMs,
      nowMs: this.#now(),
      source: this.#source,
      gpus: [...this.#latestGpus],
      history,
      processes: [...this.#processes],
      host: this.#host,
      inventory: this.#inventory,
      torchSamples: this.torchSamples(this.limits.snapshotHistory * 2),
      torchEvents: this.torchEvents(),
      alerts: this.alertsSnapshot(),
      attribution: this.attributionSnapshot(),
    };
  }
}
