/**
 * The live source: the nvidia-smi GPU stream (one long-lived `-lms` child), compute-apps polling, host RAM/CPU,
 * and the `-q -x` inventory (at start and on request). It turns what they report into data records and one
 * SourceState, whose `message` says what is wrong and what to do and whose `warnings` list the standing
 * conditions (persistence mode off, a dropped field, PIDs from another namespace, an unhealthy or vanished GPU).
 */
import type { DataRecord, GpuSample, Inventory } from '../../../shared/data.ts';
import type { SourceState, SourceStatus, SourceWarning } from '../../../shared/source.ts';
import { HostPoller } from '../../host/hostPoller.ts';
import { createLogger } from '../../log.ts';
import { inventoryWarnings } from '../../nvidia-smi/inventory.ts';
import type { GpuSource, SourceSink } from '../types.ts';
import { ComputeAppsPoller, DEFAULT_APPS_INTERVAL_MS } from './computeAppsPoller.ts';
import { GpuStream, type StreamStatus } from './gpuStream.ts';
import { readInventory } from './inventoryReader.ts';
import { PidNamespaceCheck, type ProcLookup } from './pidNamespace.ts';
import { GpuRoster } from './roster.ts';

const log = createLogger('live');
/** With HEADROOM_DEBUG=live, the agent's CPU time per GPU sample is logged this often. */
const COST_LOG_INTERVAL_MS = 10_000;

export interface LiveSourceOptions {
  smiPath: string;
  intervalMs: number;
  appsIntervalMs?: number;
  hostIntervalMs?: number;
  env?: NodeJS.ProcessEnv;
  now?: () => number;
  /** /proc lookup for the PID namespace check (tests). */
  procLookup?: ProcLookup;
}

export class LiveSource implements GpuSource {
  readonly kind = 'live' as const;
  readonly #options: LiveSourceOptions;
  readonly #now: () => number;
  #sink: SourceSink | null = null;
  #stream: GpuStream;
  #apps: ComputeAppsPoller;
  #host: HostPoller;
  #pidCheck: PidNamespaceCheck;
  #roster = new GpuRoster();
  #status: SourceStatus = 'starting';
  #message: string | null = null;
  #sinceMs: number;
  #warnings = new Map<string, SourceWarning>();
  #inventoryWarnings: SourceWarning[] = [];
  #lastStateJson = '';
  #gpuNames: string[] = [];
  #cost = { ticks: 0, cpu: process.cpuUsage(), sinceMs: 0 };

  constructor(options: LiveSourceOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#sinceMs = this.#now();
    this.#pidCheck = new PidNamespaceCheck(options.procLookup);
    this.#stream = new GpuStream(
      { smiPath: options.smiPath, intervalMs: options.intervalMs, env: options.env, now: this.#now },
      {
        tick: (samples) => this.#tick(samples),
        status: (status, message) => this.#streamStatus(status, message),
        fieldDropped: (field, message) => this.#warn({ code: `field-dropped:${field}`, message }),
        notice: (line) => this.#warn({ code: 'smi-notice', message: `nvidia-smi says: ${line}` }),
      },
    );
    this.#apps = new ComputeAppsPoller(
      { smiPath: options.smiPath, intervalMs: options.appsIntervalMs ?? DEFAULT_APPS_INTERVAL_MS, env: options.env, now: this.#now },
      {
        processes: (processes, t) => {
          this.#emit({ kind: 'processes', t, processes });
          this.#setWarning('pid-namespace', this.#pidCheck.check(processes));
          this.#setWarning('compute-apps', null);
        },
        failed: (message) => this.#setWarning('compute-apps', { code: 'compute-apps', message: `The process list is not updating: ${message}` }),
      },
    );
    this.#host = new HostPoller((host) => this.#emit({ kind: 'host', t: host.timestampMs, host }), options.hostIntervalMs, this.#now);
  }

  /** The GPU stream's current field list (a field the driver rejected is gone from it). */
  get fields(): readonly string[] {
    return this.#stream.fields;
  }

  get restarts(): number {
    return this.#stream.restarts;
  }

  /** PID of the nvidia-smi `-lms` child now running, or null. */
  get smiChildPid(): number | null {
    return this.#stream.childPid;
  }

  async start(sink: SourceSink): Promise<void> {
    this.#sink = sink;
    this.#publish();
    this.#stream.start();
    this.#apps.start();
    this.#host.start();
    void this.#loadInventory(true);
  }

  async stop(): Promise<void> {
    await Promise.all([this.#stream.stop(), this.#apps.stop(), this.#host.stop()]);
    if (this.#sink) {
      this.#status = 'stopped';
      this.#publish();
    }
    this.#sink = null;
  }

  async refreshInventory(): Promise<Inventory | null> {
    return this.#loadInventory(false);
  }

  async #loadInventory(record: boolean): Promise<Inventory | null> {
    try {
      const inventory = await readInventory(this.#options.smiPath, this.#options.env, this.#now);
      this.#inventoryWarnings = inventoryWarnings(inventory);
      this.#setWarning('inventory', null);
      if (record) this.#emit({ kind: 'inventory', t: inventory.timestampMs, inventory });
      else this.#publish();
      return inventory;
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      log.warn(`inventory: ${message}`);
      this.#setWarning('inventory', { code: 'inventory', message: `GPU inventory unavailable: ${message}` });
      if (record) return null;
      throw e instanceof Error ? e : new Error(message);
    }
  }

  #tick(samples: GpuSample[]): void {
    const t = Math.max(...samples.map((s) => s.timestampMs));
    const change = this.#roster.update(samples, this.#now());
    for (const uuid of change.retired) this.#sink?.retireGpu?.(uuid);
    this.#gpuNames = this.#roster.names();
    for (const [code, warning] of change.warnings) this.#setWarning(code, warning, false);
    this.#emit({ kind: 'gpu', t, gpus: samples });
    this.#publish();
    this.#logCost();
  }

  /** process.cpuUsage() per tick over the last interval: what watching costs the agent (debug log). */
  #logCost(): void {
    const now = this.#now();
    if (this.#cost.ticks === 0) this.#cost = { ticks: 0, cpu: process.cpuUsage(), sinceMs: now };
    this.#cost.ticks++;
    if (now - this.#cost.sinceMs < COST_LOG_INTERVAL_MS) return;
    const used = process.cpuUsage(this.#cost.cpu);
    const ticks = this.#cost.ticks - 1;
    if (ticks > 0) {
      log.debug('cost', {
        ticks,
        seconds: (now - this.#cost.sinceMs) / 1000,
        cpuUserUsPerTick: Math.round(used.user / ticks),
        cpuSystemUsPerTick: Math.round(used.system / ticks),
        cpuUsPerTick: Math.round((used.user + used.system) / ticks),
        smiChildPid: this.#stream.childPid,
        restarts: this.#stream.restarts,
      });
    }
    this.#cost = { ticks: 0, cpu: process.cpuUsage(), sinceMs: now };
  }

  #streamStatus(status: StreamStatus, message: string | null): void {
    if (status !== this.#status || message !== this.#message) this.#sinceMs = this.#now();
    this.#status = status;
    this.#message = message;
    this.#publish();
  }

  #warn(warning: SourceWarning): void {
    this.#setWarning(warning.code, warning);
  }

  #setWarning(code: string, warning: SourceWarning | null, publish = true): void {
    if (warning) this.#warnings.set(code, warning);
    else this.#warnings.delete(code);
    if (publish) this.#publish();
  }

  #emit(record: DataRecord): void {
    try {
      this.#sink?.record(record);
    } catch (e) {
      log.error(`sink failed on a ${record.kind} record`, { error: String(e) });
    }
  }

  state(): SourceState {
    const names = this.#gpuNames;
    const gpus = names.length === 0 ? 'GPUs' : summarizeNames(names);
    return {
      kind: 'live',
      status: this.#status,
      label: `Live: ${gpus} via nvidia-smi every ${this.#options.intervalMs} ms`,
      message: this.#message,
      sinceMs: this.#sinceMs,
      replay: null,
      warnings: [...this.#inventoryWarnings, ...this.#warnings.values()],
    };
  }

  /** Send the state when it changed (ticks call this often; the JSON compare keeps the sink quiet). */
  #publish(): void {
    const state = this.state();
    const json = JSON.stringify({ ...state, sinceMs: 0 });
    if (json === this.#lastStateJson) return;
    this.#lastStateJson = json;
    try {
      this.#sink?.state(state);
    } catch (e) {
      log.error('sink failed on a source state', { error: String(e) });
    }
  }
}

/** ["NVIDIA H200", "NVIDIA H200"] → "2 × NVIDIA H200". */
export function summarizeNames(names: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const n of names) counts.set(n, (counts.get(n) ?? 0) + 1);
  return [...counts].map(([n, c]) => (c > 1 ? `${c} × ${n}` : n)).join(' + ');
}
