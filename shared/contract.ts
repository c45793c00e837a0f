/**
 * The socket.io event contract, declared once and used by both ends:
 * `new Server<ClientToServerEvents, ServerToClientEvents>()` and `Socket<ServerToClientEvents, ClientToServerEvents>`.
 * Wire types carry numbers, strings and arrays only (no Date, Map or Set).
 */
import type { GpuProcess, GpuSample, HostSample, Inventory, TorchEvent, TorchSample } from './data.ts';
import type { SourceState } from './source.ts';
import type { AlertConfig, AlertEvent, AlertsSnapshot, WebhookStatus } from './alerts.ts';
import type { AttributionFrame, AttributionSnapshot } from './attribution.ts';
import type { ModelSpec, WeightScheme } from './estimator/types.ts';

/** Request/response over acks. */
export type Ack<T> = { ok: true; data: T } | { ok: false; error: string };

export interface GpuHistory {
  uuid: string;
  samples: GpuSample[];
}

/** Sent once on connect: everything a fresh page needs to draw without waiting. */
export interface Snapshot {
  serverVersion: string;
  startedAtMs: number;
  nowMs: number;
  source: SourceState;
  /** Newest sample per GPU, in nvidia-smi index order. */
  gpus: GpuSample[];
  /** Bounded recent history per GPU, oldest first. */
  history: GpuHistory[];
  processes: GpuProcess[];
  host: HostSample | null;
  inventory: Inventory | null;
  /** Bounded recent PyTorch samples (all processes) and events. */
  torchSamples: TorchSample[];
  torchEvents: TorchEvent[];
  /** Active and recent alerts, webhook and alert-log status. */
  alerts: AlertsSnapshot;
  /** Newest memory attribution frame and recent phase/OOM markers (shared/attribution.ts). */
  attribution: AttributionSnapshot;
  /** The model given with `--model`, resolved by the agent (absent or null when none was given). */
  agentModel?: AgentModel | null;
  /** The alert thresholds and configured maximum the dashboard draws (absent: the defaults). */
  alertSettings?: DashboardAlertSettings | null;
}

/** From the agent's alert settings: the headroom thresholds and the engine's configured maximum batch × length. */
export interface DashboardAlertSettings {
  enabled: boolean;
  headroom: AlertConfig['headroom'];
  maxBatch: number | null;
  /** Prompt + generated tokens per sequence. */
  maxSeqLen: number | null;
}

/** `--model` as the dashboard's prediction uses it: the architecture and exact weight bytes, never a path. */
export type AgentModel =
  | { ok: true; label: string; spec: ModelSpec; weightsBytesExact: number | null; scheme: WeightScheme | null }
  | { ok: false; error: string };

/** One tick of the GPU source: one sample per GPU. Emitted volatile: a slow tab gets the newest, not a backlog. */
export interface GpuTick {
  timestampMs: number;
  gpus: GpuSample[];
}

export interface ProcessesUpdate {
  timestampMs: number;
  processes: GpuProcess[];
}

export interface ServerToClientEvents {
  snapshot: (snapshot: Snapshot) => void;
  gpu: (tick: GpuTick) => void;
  processes: (update: ProcessesUpdate) => void;
  host: (sample: HostSample) => void;
  inventory: (inventory: Inventory) => void;
  torch: (samples: TorchSample[]) => void;
  torchEvent: (event: TorchEvent) => void;
  /** Each GPU's measured memory split into weights, KV cache, PyTorch, fragmentation, other (at most 10 Hz). */
  attribution: (frame: AttributionFrame) => void;
  source: (state: SourceState) => void;
  /** One alert state change (firing, escalated, renotify, resolved). */
  alert: (event: AlertEvent) => void;
  /** Webhook deliveries or the alert log failed or recovered. */
  alertDelivery: (status: { webhooks: WebhookStatus[]; logError: string | null }) => void;
}

export interface ClientToServerEvents {
  /** Re-read the inventory (`nvidia-smi -q -x`) now; answers the fresh inventory or why not. */
  'inventory:refresh': (ack: (result: Ack<Inventory | null>) => void) => void;
}

/** Shape of `GET /api/health`. */
export interface HealthResponse {
  ok: boolean;
  serverVersion: string;
  source: SourceState;
  lastSampleAgeMs: number | null;
  clients: number;
  gpus: number;
  uptimeMs: number;
}
