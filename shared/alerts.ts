/**
 * Alerts: the rule settings (a JSON config file validated with zod), the alerts the agent raises, and what
 * travels to the browser, webhooks, `GET /api/alerts` and the alert log. Declared once, used by both ends.
 *
 * Conventions: bytes are integers, times epoch ms, `null` means not available. An alert is identified by
 * `key` (rule + subject, e.g. `headroom:GPU-…`); each firing→resolved span of one key is an episode (`id`).
 */
import { z } from 'zod';

export const AlertRuleSchema = z.enum(['headroom', 'forecast', 'drift', 'fragmentation', 'oom', 'gpu-health', 'source']);
export type AlertRule = z.infer<typeof AlertRuleSchema>;

export const AlertSeveritySchema = z.enum(['warning', 'critical']);
export type AlertSeverity = z.infer<typeof AlertSeveritySchema>;

const gib = z.number({ error: () => 'must be a number of GiB' }).nonnegative('must be 0 or more');
const percent = z.number({ error: () => 'must be a percentage' }).min(0, 'must be 0–100').max(100, 'must be 0–100');
const ms = z.number({ error: () => 'must be a number of milliseconds' }).int('must be whole milliseconds').nonnegative('must be 0 or more');

/** One level of the headroom rule: fires when free is below either threshold (null = not used). */
const HeadroomLevelSchema = z
  .strictObject({
    freeBelowGiB: gib.nullable().default(null),
    freeBelowPercent: percent.nullable().default(null),
    /** The condition must hold this long before the alert fires. */
    forMs: ms,
  })
  .refine((l) => l.freeBelowGiB !== null || l.freeBelowPercent !== null, {
    message: 'set freeBelowGiB or freeBelowPercent (or both)',
  });

export const AlertConfigSchema = z.strictObject({
  /** Turn every rule off (webhooks, log and the event rules included). */
  enabled: z.boolean().default(true),
  headroom: z
    .strictObject({
      enabled: z.boolean().default(true),
      warning: HeadroomLevelSchema.default({ freeBelowGiB: null, freeBelowPercent: 10, forMs: 10_000 }),
      critical: HeadroomLevelSchema.default({ freeBelowGiB: null, freeBelowPercent: 5, forMs: 2_000 }),
      /** Cleared only when free rises this many percent (of total) above the threshold that fired. */
      hysteresisPercent: percent.default(2),
    })
    .prefault({}),
  forecast: z
    .strictObject({
      enabled: z.boolean().default(true),
      /** Alert when the time to OOM from the growth of the envelope is below this. */
      timeToOomBelowMs: ms.default(60_000),
      /** Clear when the time to OOM rises above threshold × this factor. */
      clearFactor: z.number().min(1, 'must be at least 1').default(2),
      /** Window of the envelope fit, and the bucket whose maximum is one envelope point. */
      windowMs: ms.min(5_000, 'must be at least 5000 ms').default(120_000),
      bucketMs: ms.min(100, 'must be at least 100 ms').default(5_000),
      /** Growth slower than this is no trend (noise, slow leaks measured in days). */
      minGrowthBytesPerSecond: z.number().nonnegative().default(1024 * 1024),
      forMs: ms.default(5_000),
      /** The serving engine's configured maximum batch (sequences) and length (prompt + generated tokens). */
      maxBatch: z.number().int().positive().nullable().default(null),
      maxSeqLen: z.number().int().positive().nullable().default(null),
      /** Kept free below the device total when asking "does it fit" (allocator rounding, workspaces). */
      marginGiB: gib.default(0.5),
    })
    .prefault({}),
  drift: z
    .strictObject({
      enabled: z.boolean().default(true),
      /** Actual above prediction by more than this percent, and by more than minExcessGiB. */
      abovePercent: z.number().positive('must be above 0').default(25),
      minExcessGiB: gib.default(1),
    })
    .prefault({}),
  fragmentation: z
    .strictObject({
      enabled: z.boolean().default(true),
      /** Reserved-but-unallocated above both of these. */
      unallocatedAboveGiB: gib.default(2),
      unallocatedAbovePercent: percent.default(5),
      /** Retries counted as "growing" when they rose within this window. */
      retryWindowMs: ms.default(60_000),
    })
    .prefault({}),
  events: z
    .strictObject({
      enabled: z.boolean().default(true),
      /** An OOM alert resolves after this long without a further OOM (or when its process ends). */
      oomQuietMs: ms.default(60_000),
      /** No GPU sample for this long: the source is stale. */
      staleAfterMs: ms.min(1_000, 'must be at least 1000 ms').default(10_000),
    })
    .prefault({}),
  /** A firing alert is sent again at this interval while it lasts (0 = never). */
  renotifyMs: ms.default(3_600_000),
  webhooks: z
    .array(
      z.strictObject({
        url: z.url({ protocol: /^https?$/, error: () => 'must be an http(s) URL' }),
        format: z.enum(['json', 'slack']).default('json'),
        timeoutMs: ms.min(100).max(60_000).default(5_000),
        maxAttempts: z.number().int().min(1).max(10).default(4),
      }),
    )
    .default([]),
  /** Alert log (JSON lines); relative paths are resolved against the config file's folder. */
  alertLog: z.string().min(1).nullable().default(null),
});
export type AlertConfig = z.infer<typeof AlertConfigSchema>;
export type AlertConfigInput = z.input<typeof AlertConfigSchema>;
export type WebhookConfig = AlertConfig['webhooks'][number];

/** What an alert is about. */
export const AlertSubjectSchema = z.object({
  gpuUuid: z.string().nullable(),
  gpuIndex: z.number().int().nonnegative().nullable(),
  pid: z.number().int().nonnegative().nullable(),
});
export type AlertSubject = z.infer<typeof AlertSubjectSchema>;

/** The evidence behind an alert: measured values, the thresholds they were compared with, and when. */
export const AlertEvidenceSchema = z.object({
  values: z.record(z.string(), z.union([z.number(), z.string(), z.null()])),
  thresholds: z.record(z.string(), z.union([z.number(), z.string(), z.null()])),
  /** When the condition was first seen, when the alert fired, the sample time of the values. */
  conditionSinceMs: z.number(),
  observedAtMs: z.number(),
});
export type AlertEvidence = z.infer<typeof AlertEvidenceSchema>;

export const AlertSchema = z.object({
  /** One episode: `${key}@${firedAtMs}`. */
  id: z.string(),
  key: z.string(),
  rule: AlertRuleSchema,
  severity: AlertSeveritySchema,
  state: z.enum(['firing', 'resolved']),
  subject: AlertSubjectSchema,
  /** One line a person reads: "GPU 0: 3.2 GiB free (2.3 %), below 5 %". */
  summary: z.string(),
  firedAtMs: z.number(),
  resolvedAtMs: z.number().nullable(),
  /** Evidence when it fired (severity changes update it), and when it resolved. */
  evidence: AlertEvidenceSchema,
  resolvedEvidence: AlertEvidenceSchema.nullable(),
});
export type Alert = z.infer<typeof AlertSchema>;

/** `updated`: a firing alert learned more (the OOM message arrived after the sample that showed it); no notification. */
export const AlertTransitionSchema = z.enum(['firing', 'escalated', 'updated', 'renotify', 'resolved']);
export type AlertTransition = z.infer<typeof AlertTransitionSchema>;

/** One state change: the socket `alert` event, a webhook POST, and one line of the alert log. */
export const AlertEventSchema = z.object({
  transition: AlertTransitionSchema,
  atMs: z.number(),
  alert: AlertSchema,
});
export type AlertEvent = z.infer<typeof AlertEventSchema>;

export interface WebhookStatus {
  /** Scheme, host and path only; never the query (tokens live there). */
  target: string;
  format: 'json' | 'slack';
  delivered: number;
  failed: number;
  queued: number;
  lastError: string | null;
  lastErrorAtMs: number | null;
  lastOkAtMs: number | null;
}

/** In the connect snapshot and `GET /api/alerts`. */
export interface AlertsSnapshot {
  active: Alert[];
  /** Newest first, bounded. */
  recent: Alert[];
  webhooks: WebhookStatus[];
  /** Where the log goes (file name only; clients never see paths), or null when not kept. */
  logFile: string | null;
  /** A problem with the log file, shown in the panel. */
  logError: string | null;
}

export const EMPTY_ALERTS: AlertsSnapshot = { active: [], recent: [], webhooks: [], logFile: null, logError: null };
