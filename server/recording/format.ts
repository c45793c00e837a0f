/**
 * Headroom's recording format (version 1): JSON lines. The first line is a header; every further line is one
 * data record (`shared/data.ts`: gpu, processes, host, torch, torchEvent, inventory) with its epoch-ms `t`.
 * Live recordings append records as they arrive, so a file may end in a partial line after a crash; that
 * line is skipped. Unknown record kinds (from newer versions) are skipped and counted, not fatal.
 */
import { z } from 'zod';
import { DataRecordSchema, type DataRecord } from '../../shared/data.ts';

export const RECORDING_FORMAT = 'headroom-recording';
export const RECORDING_VERSION = 1;

export const RecordingHeaderSchema = z.object({
  kind: z.literal('header'),
  format: z.literal(RECORDING_FORMAT),
  version: z.literal(RECORDING_VERSION),
  createdAtMs: z.number().finite(),
  /** What was recorded, for the replay banner: "106-second serving session, Llama-3-8B bf16 + Qwen2.5-0.5B". */
  description: z.string().nullable(),
  /** `live` for the agent's own `--record`, `converted` for captures turned into a recording. */
  origin: z.enum(['live', 'converted']),
  hostname: z.string().nullable(),
  /** GPU product names in index order, for the banner ("NVIDIA H200"). */
  gpuNames: z.array(z.string()),
});
export type RecordingHeader = z.infer<typeof RecordingHeaderSchema>;

export interface Recording {
  header: RecordingHeader;
  /** Sorted by `t` (stable for equal times). */
  records: DataRecord[];
  skippedUnknownKinds: number;
  skippedPartialLastLine: boolean;
}

export class RecordingFormatError extends Error {
  override name = 'RecordingFormatError';
}

export function serializeRecord(record: RecordingHeader | DataRecord): string {
  return `${JSON.stringify(record)}\n`;
}

const KNOWN_KINDS: ReadonlySet<string> = new Set(DataRecordSchema.options.map((o) => o.shape.kind.value));

/** Parse a whole recording. Throws RecordingFormatError naming the file, line and what to do. */
export function parseRecording(text: string, fileName: string): Recording {
  const lines = text.split('\n');
  const lastNonEmpty = lines.findLastIndex((l) => l.trim() !== '');
  if (lastNonEmpty < 0) {
    throw new RecordingFormatError(`${fileName} is empty: a Headroom recording starts with a header line; record one with --record <file>`);
  }
  const fail = (lineNo: number, why: string): never => {
    throw new RecordingFormatError(`${fileName}:${lineNo}: ${why}. Is this a Headroom recording (JSON lines, format "${RECORDING_FORMAT}" version ${RECORDING_VERSION})?`);
  };

  let header: RecordingHeader | null = null;
  const records: DataRecord[] = [];
  let skippedUnknownKinds = 0;
  let skippedPartialLastLine = false;

  for (let i = 0; i <= lastNonEmpty; i++) {
    const line = (lines[i] ?? '').replace(/\r$/, '');
    if (line.trim() === '') continue;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      if (i === lastNonEmpty && header) {
        skippedPartialLastLine = true; // a live recording cut off mid-line
        continue;
      }
      fail(i + 1, 'not valid JSON');
    }
    if (!header) {
      const h = RecordingHeaderSchema.safeParse(json);
      if (!h.success) fail(i + 1, `bad header (${z.prettifyError(h.error).replace(/\n/g, '; ')})`);
      else header = h.data;
      continue;
    }
    const kind = typeof json === 'object' && json !== null && 'kind' in json ? (json as { kind: unknown }).kind : undefined;
    if (typeof kind === 'string' && !KNOWN_KINDS.has(kind)) {
      skippedUnknownKinds++;
      continue;
    }
    const r = DataRecordSchema.safeParse(json);
    if (!r.success) fail(i + 1, `bad ${String(kind)} record (${z.prettifyError(r.error).replace(/\n/g, '; ')})`);
    else records.push(r.data);
  }
  if (!header) fail(1, 'no header line');
  const h = header as RecordingHeader;
  if (!records.some((r) => r.kind === 'gpu')) {
    throw new RecordingFormatError(`${fileName} has no GPU samples to replay`);
  }
  records.sort((a, b) => a.t - b.t);
  return { header: h, records, skippedUnknownKinds, skippedPartialLastLine };
}
