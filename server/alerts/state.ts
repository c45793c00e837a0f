/**
 * Conditions → alerts, state changes only. Per key: a level fires once its condition has held for the
 * level's minimum duration; a firing alert escalates from warning to critical, is re-sent every
 * `renotifyMs`, and resolves only when the rule's clear condition (hysteresis) holds. It never steps down
 * from critical to warning and never flaps: one firing and one resolved per episode.
 */
import type { Alert, AlertEvent, AlertSeverity } from '../../shared/alerts.ts';
import { RingBuffer } from '../../shared/ringBuffer.ts';
import type { Condition } from './rules/types.ts';

interface Track {
  pendingSince: Record<AlertSeverity, number | null>;
  firing: Alert | null;
  /** The condition's `detail` when the alert fired or was last updated. */
  detail: string | undefined;
  lastNotifiedAtMs: number | null;
  /** Seen in a rule's output since this agent started (restored alerts are not, until their subject is). */
  seen: boolean;
}

/** Restored alerts whose subject never reappears resolve after this much data time. */
const RESTORED_GRACE_MS = 60_000;

function evidenceOf(c: Condition, since: number): Alert['evidence'] {
  return { values: { ...c.values }, thresholds: { ...c.thresholds }, conditionSinceMs: since, observedAtMs: c.observedAtMs };
}

export class AlertStates {
  readonly #tracks = new Map<string, Track>();
  readonly #recent: RingBuffer<Alert>;
  readonly #renotifyMs: number;
  #firstEvalMs: number | null = null;

  constructor(options: { renotifyMs: number; recentCapacity?: number }) {
    this.#renotifyMs = options.renotifyMs;
    this.#recent = new RingBuffer(options.recentCapacity ?? 200);
  }

  /** Rebuild from the alert log: the newest state of each key, firing ones active again. */
  restore(events: readonly AlertEvent[]): void {
    for (const e of events) {
      const track = this.#track(e.alert.key);
      if (e.alert.state === 'firing') {
        track.firing = e.alert;
        track.lastNotifiedAtMs = e.atMs;
      } else {
        track.firing = null;
        this.#recent.push(e.alert);
      }
    }
  }

  #track(key: string): Track {
    let t = this.#tracks.get(key);
    if (!t) this.#tracks.set(key, (t = { pendingSince: { warning: null, critical: null }, firing: null, detail: undefined, lastNotifiedAtMs: null, seen: false }));
    return t;
  }

  /**
   * Apply one evaluation. `inScope` names the keys this evaluation is responsible for: a firing alert in
   * scope whose key is absent (its GPU or process went away) resolves.
   */
  apply(conditions: readonly Condition[], nowMs: number, inScope: (key: string) => boolean): AlertEvent[] {
    this.#firstEvalMs ??= nowMs;
    const out: AlertEvent[] = [];
    const present = new Set<string>();
    for (const c of conditions) {
      present.add(c.key);
      const t = this.#track(c.key);
      t.seen = true;
      out.push(...this.#step(t, c, nowMs));
    }
    for (const [key, t] of this.#tracks) {
      if (present.has(key) || !inScope(key)) continue;
      t.pendingSince = { warning: null, critical: null };
      const graceOver = t.seen || nowMs - (this.#firstEvalMs ?? nowMs) >= RESTORED_GRACE_MS;
      if (t.firing && graceOver) out.push(this.#resolve(t, nowMs, null));
      if (!t.firing) this.#tracks.delete(key);
    }
    return out;
  }

  #step(t: Track, c: Condition, nowMs: number): AlertEvent[] {
    const holdsWarning = c.severity !== null;
    const holdsCritical = c.severity === 'critical';
    t.pendingSince.warning = holdsWarning ? (t.pendingSince.warning ?? nowMs) : null;
    t.pendingSince.critical = holdsCritical ? (t.pendingSince.critical ?? nowMs) : null;
    const due = (s: AlertSeverity): boolean => {
      const since = t.pendingSince[s];
      return since !== null && nowMs - since >= c.forMs[s];
    };
    const level: AlertSeverity | null = due('critical') ? 'critical' : due('warning') ? 'warning' : null;

    if (!t.firing) {
      if (!level) return [];
      const since = t.pendingSince[level] ?? nowMs;
      const alert: Alert = {
        id: `${c.key}@${nowMs}`,
        key: c.key,
        rule: c.rule,
        severity: level,
        state: 'firing',
        subject: c.subject,
        summary: c.summary,
        firedAtMs: nowMs,
        resolvedAtMs: null,
        evidence: evidenceOf(c, since),
        resolvedEvidence: null,
      };
      t.firing = alert;
      t.detail = c.detail;
      t.lastNotifiedAtMs = nowMs;
      return [{ transition: 'firing', atMs: nowMs, alert }];
    }
    if (c.clear && !holdsWarning) return [this.#resolve(t, nowMs, c)];
    if (level === 'critical' && t.firing.severity === 'warning') {
      t.firing = { ...t.firing, severity: 'critical', summary: c.summary, evidence: evidenceOf(c, t.pendingSince.critical ?? nowMs) };
      t.lastNotifiedAtMs = nowMs;
      return [{ transition: 'escalated', atMs: nowMs, alert: t.firing }];
    }
    if (c.detail !== t.detail) {
      t.detail = c.detail;
      t.firing = { ...t.firing, summary: c.summary, evidence: evidenceOf(c, t.firing.evidence.conditionSinceMs) };
      return [{ transition: 'updated', atMs: nowMs, alert: t.firing }];
    }
    if (this.#renotifyMs > 0 && t.lastNotifiedAtMs !== null && nowMs - t.lastNotifiedAtMs >= this.#renotifyMs) {
      t.lastNotifiedAtMs = nowMs;
      return [{ transition: 'renotify', atMs: nowMs, alert: t.firing }];
    }
    return [];
  }

  #resolve(t: Track, nowMs: number, c: Condition | null): AlertEvent {
    const firing = t.firing as Alert;
    const resolved: Alert = {
      ...firing,
      state: 'resolved',
      resolvedAtMs: nowMs,
      resolvedEvidence: c ? evidenceOf(c, nowMs) : { values: { reason: 'subject gone' }, thresholds: {}, conditionSinceMs: nowMs, observedAtMs: nowMs },
    };
    t.firing = null;
    t.lastNotifiedAtMs = null;
    this.#recent.push(resolved);
    return { transition: 'resolved', atMs: nowMs, alert: resolved };
  }

  active(): Alert[] {
    return [...this.#tracks.values()].flatMap((t) => (t.firing ? [t.firing] : [])).sort((a, b) => b.firedAtMs - a.firedAtMs);
  }

  /** Resolved alerts, newest first. */
  recent(max?: number): Alert[] {
    return this.#recent.toArray(max).reverse();
  }
}
