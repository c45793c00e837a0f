/**
 * A data source for the agent: replay of a recording, or the live nvidia-smi stream. Sources push data
 * records and state changes into a sink (the hub); they never throw out of their timers.
 */
import type { DataRecord, Inventory } from '../../shared/data.ts';
import type { SourceKind, SourceState } from '../../shared/source.ts';

export interface SourceSink {
  record(record: DataRecord): void;
  state(state: SourceState): void;
  /** A GPU that stopped reporting (fell off the bus): drop its history. */
  retireGpu?(uuid: string): void;
}

export interface GpuSource {
  readonly kind: SourceKind;
  /** Resolves once the source runs; rejects with an Error whose message says what to do (bad file, no nvidia-smi). */
  start(sink: SourceSink): Promise<void>;
  stop(): Promise<void>;
  /** Re-read static inventory (live: `nvidia-smi -q -x`); replay answers what the recording holds. */
  refreshInventory(): Promise<Inventory | null>;
}
