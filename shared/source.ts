/** The state of the agent's data source, as shown in the UI banner and `GET /api/health`. */
import { z } from 'zod';

export const SourceKindSchema = z.enum(['replay', 'live']);
export type SourceKind = z.infer<typeof SourceKindSchema>;

export const SourceStatusSchema = z.enum(['starting', 'running', 'stale', 'error', 'stopped']);
export type SourceStatus = z.infer<typeof SourceStatusSchema>;

export const ReplayInfoSchema = z.object({
  /** File name only: clients never see or choose paths. */
  fileName: z.string(),
  description: z.string().nullable(),
  recordingStartMs: z.number(),
  recordingEndMs: z.number(),
  /** Added to recorded times to get the emitted (as-if-live) times in the current loop. */
  offsetMs: z.number(),
  loop: z.number().int().nonnegative(),
});
export type ReplayInfo = z.infer<typeof ReplayInfoSchema>;

/** Something a person should know while the source runs (persistence mode off, a field the driver dropped, ...). */
export const SourceWarningSchema = z.object({
  /** Stable key: `persistence-off`, `mig`, `field-dropped`, `pid-namespace`, `gpu-health`, `gpu-gone`, `inventory`, `host`. */
  code: z.string(),
  message: z.string(),
});
export type SourceWarning = z.infer<typeof SourceWarningSchema>;

export const SourceStateSchema = z.object({
  kind: SourceKindSchema,
  status: SourceStatusSchema,
  /** One line for the banner: "Replay of a recorded session on NVIDIA H200 — not live". */
  label: z.string(),
  /** What went wrong and what to do, when status is `error` or `stale`. */
  message: z.string().nullable(),
  sinceMs: z.number(),
  replay: ReplayInfoSchema.nullable(),
  /** Live source: standing warnings, shown under the banner (absent or empty when there are none). */
  warnings: z.array(SourceWarningSchema).optional(),
});
export type SourceState = z.infer<typeof SourceStateSchema>;
