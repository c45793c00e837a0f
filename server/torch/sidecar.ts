/**
 * Pure parser for the PyTorch memory log: one JSON object per line with `ts` (epoch seconds), `pid`,
 * `device`, `phase` and `torch.cuda.memory_stats()` numbers (`allocated`, `reserved`, `active`,
 * `inactive_split`, `peak_allocated`, `num_alloc_retries`, `num_ooms`), plus an optional `event` object.
 *
 * Two writers share this format: the project's hook (`server/integrations/pytorch/headroom_torch.py`,
 * lines carry `"v": 1`) and the capture format of the recorded sessions (no `v`). The zod schema below
 * mirrors `server/integrations/pytorch/headroom-torch-log.schema.json`; a unit test checks that both accept
 * and reject the same lines. Unknown keys are accepted and kept (event facts, and `extra` for a line).
 */
import { z } from 'zod';
import type { TorchEvent, TorchSample } from '../../shared/data.ts';
import { secondsToMs } from '../../shared/units.ts';

export const TORCH_LOG_VERSION = 1;

const count = z.number().int().nonnegative();
const nullableCount = count.nullish();

const KIND_RULES: Record<string, (e: Record<string, unknown>) => string | null> = {
  phase: (e) => (typeof e.name === 'string' && e.name.length > 0 ? null : 'a phase event needs a non-empty "name"'),
  kv_cache: (e) => (isCount(e.bytes) ? null : 'a kv_cache event needs "bytes" (a whole number ≥ 0)'),
  weights: (e) =>
    isCount(e.total_bytes) && isByteMap(e.bytes_by_dtype) && optionalCount(e.params) && optionalCount(e.buffer_bytes)
      ? null
      : 'a weights event needs "total_bytes" and "bytes_by_dtype" (whole numbers ≥ 0)',
  oom: (e) =>
    (e.source === undefined || e.source === 'exception' || e.source === 'observer') && optionalCount(e.alloc) && optionalCount(e.device_free)
      ? null
      : 'an oom event has "source" exception|observer and byte counts "alloc", "device_free"',
};

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0;
}
function optionalCount(v: unknown): boolean {
  return v === undefined || isCount(v);
}
function isByteMap(v: unknown): boolean {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every(isCount);
}

export const SidecarEventSchema = z
  .looseObject({
    kind: z.string().min(1),
    name: z.string().nullish(),
    message: z.string().nullish(),
  })
  .superRefine((e, ctx) => {
    const problem = KIND_RULES[e.kind]?.(e);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

export const SidecarLineSchema = z
  .looseObject({
    v: z.literal(TORCH_LOG_VERSION, { error: () => `"v" must be ${TORCH_LOG_VERSION}: this line was written by a newer hook; upgrade Headroom` }).optional(),
    ts: z.number().finite().positive(),
    pid: count,
    device: count.nullish(),
    uuid: z.string().nullish(),
    rank: count.nullish(),
    step: count.nullish(),
    phase: z.string().nullish(),
    allocated: count.optional(),
    reserved: count.optional(),
    active: nullableCount,
    inactive_split: nullableCount,
    peak_allocated: nullableCount,
    num_alloc_retries: nullableCount,
    num_ooms: nullableCount,
    free: nullableCount,
    total: nullableCount,
    event: SidecarEventSchema.optional(),
  })
  .superRefine((l, ctx) => {
    const hasA = l.allocated !== undefined;
    const hasR = l.reserved !== undefined;
    if (hasA !== hasR) ctx.addIssue({ code: 'custom', message: '"allocated" and "reserved" come together' });
    if ((hasA || hasR) && (l.device === undefined || l.device === null)) ctx.addIssue({ code: 'custom', message: 'a sample line needs "device"' });
    if (!hasA && l.event === undefined) ctx.addIssue({ code: 'custom', message: 'a line carries memory numbers ("allocated", "reserved") or an "event"' });
  });
export type SidecarLine = z.infer<typeof SidecarLineSchema>;

const KNOWN_KEYS = new Set(Object.keys(SidecarLineSchema.shape));

export interface SidecarParsed {
  sample: TorchSample | null;
  event: TorchEvent | null;
  /** Top-level keys this version does not know, kept as written. */
  extra: Record<string, unknown>;
  /** Device-wide free/total from `mem_get_info()`, when the line has them. */
  device: { freeBytes: number | null; totalBytes: number | null } | null;
}

export type SidecarParseResult = { ok: true; value: SidecarParsed } | { ok: false; error: string };

/** Turn one validated line into a sample (when it carries memory numbers) and an event (when it has one). */
export function sidecarToRecords(line: SidecarLine): SidecarParsed {
  const timestampMs = secondsToMs(line.ts);
  const device = line.device ?? null;
  const sample: TorchSample | null =
    device !== null && line.allocated !== undefined && line.reserved !== undefined
      ? {
          timestampMs,
          pid: line.pid,
          device,
          uuid: line.uuid ?? null,
          phase: line.phase ?? null,
          allocatedBytes: line.allocated,
          reservedBytes: line.reserved,
          activeBytes: line.active ?? null,
          inactiveSplitBytes: line.inactive_split ?? null,
          peakAllocatedBytes: line.peak_allocated ?? null,
          numAllocRetries: line.num_alloc_retries ?? null,
          numOoms: line.num_ooms ?? null,
        }
      : null;
  let event: TorchEvent | null = null;
  if (line.event) {
    const { kind, name, message, ...facts } = line.event;
    if (line.uuid) facts.uuid ??= line.uuid;
    event = { timestampMs, pid: line.pid, device, kind, name: name ?? null, message: message ?? null, facts };
  }
  const extra: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(line)) if (!KNOWN_KEYS.has(k)) extra[k] = v;
  const freeTotal = line.free !== undefined || line.total !== undefined ? { freeBytes: line.free ?? null, totalBytes: line.total ?? null } : null;
  return { sample, event, extra, device: freeTotal };
}

/** Parse one text line. Errors say what is wrong; callers count and skip them. */
export function parseSidecarLine(text: string): SidecarParseResult {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, error: 'not JSON' };
  }
  const parsed = SidecarLineSchema.safeParse(json);
  if (!parsed.success) return { ok: false, error: z.prettifyError(parsed.error).replace(/\n/g, '; ') };
  return { ok: true, value: sidecarToRecords(parsed.data) };
}
