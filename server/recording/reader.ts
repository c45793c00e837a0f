/** Thin I/O around parseRecording: reads a recording file with a size limit and clear errors. */
import { readFile, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { parseRecording, RecordingFormatError, type Recording } from './format.ts';

/** Replay keeps the whole recording in memory; past this, split the recording. */
export const MAX_RECORDING_BYTES = 512 * 1024 * 1024;

export async function readRecording(path: string): Promise<Recording> {
  const name = basename(path);
  let size: number;
  try {
    const s = await stat(path);
    if (!s.isFile()) throw new RecordingFormatError(`${path} is not a file; pass a recording written by --record`);
    size = s.size;
  } catch (e) {
    if (e instanceof RecordingFormatError) throw e;
    throw new RecordingFormatError(`cannot read replay file ${path} (${(e as NodeJS.ErrnoException).code ?? String(e)}); check the path given to --replay`);
  }
  if (size > MAX_RECORDING_BYTES) {
    throw new RecordingFormatError(`${path} is ${size} bytes, over the ${MAX_RECORDING_BYTES}-byte replay limit; replay a shorter recording`);
  }
  const raw = await readFile(path);
  const text = path.endsWith('.gz') ? gunzipSync(raw).toString('utf8') : raw.toString('utf8');
  return parseRecording(text, name);
}
