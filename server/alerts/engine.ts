/**
 * The alert engine: fed the hub's records and source states, it evaluates every rule and emits state
 * changes (firing, escalated, renotify, resolved) to its listeners (socket, webhooks, log). Data rules run
 * on record time, so a replay or a recording evaluated offline gives the alerts a live run would have;
 * the source rule (stale, nvidia-smi failing) runs on the wall clock from `tick()`.
 */
import type { Alert, AlertConfig, AlertEvent } from '../../shared/alerts.ts';
import type { DataRecord } from '../../shared/data.ts';
import type { SourceState } from '../../shared/source.ts';
import { createLogger } from '../log.ts';
import { Observations, type ProcessObs } from './observe.ts';
import { predictFromFacts } from './prediction.ts';
import { driftConditions } from './rules/drift.ts';
import { eventConditions, sourceConditions } from './rules/events.ts';
import { forecastConditions } from './rules/forecast.ts';
import { fragmentationConditions } from './rules/fragmentation.ts';
import { headroomConditions } from './rules/headroom.ts';
import type { Condition, Prediction, RuleContext } from './rules/types.ts';
import { AlertStates } from './state.ts';

const log = createLogger('alerts');

export type AlertListener = (event: AlertEvent) => void;

export interface AlertEngineOptions {
  config: AlertConfig;
  /** A fixed prediction for every process (tests); by default each process gets the estimator's for its reported model. */
  prediction?: Prediction | null;
  /** `--model`: the model id used when a process reports a dtype but no model. */
  model?: string | null;
  /** Wall clock for the source rule. */
  now?: () => number;
  /** Wall-clock age of the newest GPU record (the hub's), for staleness. */
  lastSampleAgeMs?: () => number | null;
  /** Events from the alert log, oldest first: restores active and recent alerts. */
  restore?: readonly AlertEvent[];
}

const isSourceKey = (key: string): boolean => key === 'source';

export class AlertEngine {
  readonly config: AlertConfig;
  readonly obs = new Observations();
  readonly #states: AlertStates;
  readonly #listeners = new Set<AlertListener>();
  readonly #now: () => number;
  readonly #lastSampleAgeMs: () => number | null;
  #prediction: Prediction | null;
  readonly #model: string | null;
  readonly #estimated = new Map<number, { facts: unknown; prediction: Prediction | null }>();
  #source: SourceState | null = null;

  constructor(options: AlertEngineOptions) {
    this.config = options.config;
    this.#prediction = options.prediction ?? null;
    this.#model = options.model ?? null;
    this.#now = options.now ?? Date.now;
    this.#lastSampleAgeMs = options.lastSampleAgeMs ?? (() => null);
    this.#states = new AlertStates({ renotifyMs: options.config.renotifyMs });
    if (options.restore) this.#states.restore(options.restore);
  }

  onEvent(listener: AlertListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The estimator's prediction for what the process reported (cached until its facts change). */
  #predict(p: ProcessObs): Prediction | null {
    if (this.#prediction) return this.#prediction;
    const facts = p.calibration.modelFacts;
    const cached = this.#estimated.get(p.pid);
    if (cached && cached.facts === facts) return cached.prediction;
    const gpuName = p.gpuUuid ? (this.obs.gpus.get(p.gpuUuid)?.latest.name ?? null) : null;
    const prediction = predictFromFacts(facts, this.#model, gpuName);
    this.#estimated.set(p.pid, { facts, prediction });
    if (this.#estimated.size > 256) this.#estimated.delete(this.#estimated.keys().next().value as number);
    return prediction;
  }

  ingest(record: DataRecord): void {
    if (!this.config.enabled) return;
    this.obs.ingest(record);
    if (record.kind === 'host' || record.kind === 'inventory') return;
    this.evaluate(this.obs.nowMs);
  }

  /** Evaluate the data rules at `nowMs` (record time). */
  evaluate(nowMs: number): AlertEvent[] {
    const ctx: RuleContext = { obs: this.obs, config: this.config, nowMs, predict: (p) => this.#predict(p) };
    const conditions: Condition[] = [];
    for (const rule of [headroomConditions, forecastConditions, driftConditions, fragmentationConditions, eventConditions]) {
      try {
        conditions.push(...rule(ctx));
      } catch (e) {
        log.error(`rule ${rule.name} failed; skipped this evaluation`, { error: String(e) });
      }
    }
    return this.#emit(this.#states.apply(conditions, nowMs, (k) => !isSourceKey(k)));
  }

  source(state: SourceState): void {
    this.#source = state;
    this.tick();
  }

  /** Wall-clock checks: stale source, nvidia-smi failing. Call about once a second. */
  tick(): AlertEvent[] {
    if (!this.config.enabled) return [];
    const nowMs = this.#now();
    const conditions = sourceConditions({ config: this.config, nowMs, source: this.#source, lastSampleAgeMs: this.#lastSampleAgeMs() });
    return this.#emit(this.#states.apply(conditions, nowMs, isSourceKey));
  }

  #emit(events: AlertEvent[]): AlertEvent[] {
    for (const e of events) {
      for (const l of this.#listeners) {
        try {
          l(e);
        } catch (err) {
          log.error('alert listener failed', { error: String(err) });
        }
      }
    }
    return events;
  }

  active(): Alert[] {
    return this.#states.active();
  }

  recent(max?: number): Alert[] {
    return this.#states.recent(max);
  }
}
