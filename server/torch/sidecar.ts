/**
 * Pure parser for the PyTorch memory sidecar: one JSON object per line with `ts` (epoch seconds), `pid`,
 * `device`, `phase` and `torch.cuda.memory_stats()` numbers (`allocated`, `reserved`, `active`,
 * `inactive_split`, `peak_allocated`, `num_alloc_retries`, `num_ooms`), plus an optional `event` object.
 * This reads the capture format of the recorded sessions; unknown keys are accepted and ignored.
 */
import { z } from 'zod';
import type { TorchEvent, TorchSample } from '../../shared/data.ts';
import { secondsToMs } from '../../shared/units.ts';

const count = z.number().int().nonnegative();
const optionalCount = count.nullish();

const SidecarEventSchema = z.looseObject({
  kind: z.string().min(1),
  name: z.string().nullish(),
  message: z.string().nullish(),
});

export const SidecarLineSchema = z.looseObject({
  ts: z.number().finite().positive(),
  pid: count,
  device: count.nullish(),
  uuid: z.string().nullish(),
  phase: z.string().nullish(),
  allocated: count.nullish(),
  reserved: count.nullish(),
  active: optionalCount,
  inactive_split: optionalCount,
  peak_allocated: optionalCount,
  num_alloc_retries: optionalCount,
  num_ooms: optionalCount,
  event: SidecarEventSchema.nullish(),
});
export type SidecarLine = z.infer<typeof SidecarLineSchema>;

export interface SidecarParsed {
  sample: TorchSample | null;
  event: TorchEvent | null;
}

export type SidecarParseResult = { ok: true; value: SidecarParsed } | { ok: false; error: string };

/** Turn one validated line into a sample (when it carries memory numbers) and an event (when it has one). */
export function sidecarToRecords(line: SidecarLine): SidecarParsed {
  const timestampMs = secondsToMs(line.ts);
  const device = line.device ?? null;
  const sample: TorchSample | null =
    device !== null && typeof line.allocated === 'number' && typeof line.reserved === 'number'
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
    event = { timestampMs, pid: line.pid, device, kind, name: name ?? null, message: message ?? null, facts };
  }
  return { sample, event };
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
