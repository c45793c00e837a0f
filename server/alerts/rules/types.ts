/** What a rule returns for one subject at one instant; the state machine (state.ts) turns these into alerts. */
import type { AlertConfig, AlertRule, AlertSeverity, AlertSubject } from '../../../shared/alerts.ts';
import type { SourceState } from '../../../shared/source.ts';
import type { Observations, ProcessObs } from '../observe.ts';

export type Facts = Record<string, number | string | null>;

export interface Condition {
  /** Rule + subject, stable across evaluations: `headroom:GPU-…`, `forecast:request:423`. */
  key: string;
  rule: AlertRule;
  subject: AlertSubject;
  /** The most severe level whose condition holds now, or null. */
  severity: AlertSeverity | null;
  /** The clear condition (stricter than "not firing": hysteresis) holds; a firing alert resolves. */
  clear: boolean;
  /** How long each level must hold before it fires. */
  forMs: Record<AlertSeverity, number>;
  summary: string;
  values: Facts;
  thresholds: Facts;
  /** Time of the values (the sample's time). */
  observedAtMs: number;
  /** When this changes while the alert fires, its evidence is refreshed (`updated`), e.g. the OOM message arrived. */
  detail?: string;
}

/** Predictions from the estimator for `--model` (issue 5), when one is configured. */
export interface Prediction {
  weightsBytes: number | null;
  kvBytesPerToken: number | null;
  /** CUDA context and other memory outside torch, per process. */
  nonTorchBytes: number | null;
}

export interface RuleContext {
  obs: Observations;
  config: AlertConfig;
  nowMs: number;
  /** The estimator's prediction for a process (its reported model and dtype), or null. */
  predict: (p: ProcessObs) => Prediction | null;
}

export interface SourceContext {
  config: AlertConfig;
  nowMs: number;
  source: SourceState | null;
  /** Wall-clock age of the newest GPU record, null before the first. */
  lastSampleAgeMs: number | null;
}

export const NO_HOLD: Record<AlertSeverity, number> = { warning: 0, critical: 0 };

/** `GPU 0`, or the UUID's tail when the index is unknown. */
export function gpuLabel(index: number | null, uuid: string | null): string {
  if (index !== null) return `GPU ${index}`;
  return uuid ? `GPU ${uuid.slice(-8)}` : 'GPU ?';
}
