/**
 * safetensors header reader: an 8-byte little-endian header length, then a JSON object
 * { name: { dtype, shape, data_offsets: [begin, end] }, "__metadata__"?: {...} }. Only the header is read;
 * each tensor's exact bytes are end − begin (quantized packings such as GPTQ's I32 qweight included).
 * The pure parser takes the header bytes; readSafetensorsHeader() does the I/O.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { z } from 'zod';

/** Header sizes beyond this are refused (real headers are KBs to a few MBs). */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export const SAFETENSORS_DTYPE_BYTES: Record<string, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, U16: 2, U32: 4, U64: 8, BOOL: 1,
  F8_E4M3: 1, F8_E5M2: 1, F8_E8M0: 1,
};

export class SafetensorsError extends Error {
  override name = 'SafetensorsError';
}

export interface SafetensorsTensor {
  name: string;
  dtype: string;
  shape: number[];
  bytes: number;
}

export interface SafetensorsHeader {
  tensors: SafetensorsTensor[];
  totalBytes: number;
  bytesByDtype: Record<string, number>;
  metadata: Record<string, string>;
}

const TensorEntry = z.object({
  dtype: z.string(),
  shape: z.array(z.number().int().nonnegative()),
  data_offsets: z.tuple([z.number().int().nonnegative(), z.number().int().nonnegative()]),
});

/** Length of the JSON header from the first 8 bytes. */
export function headerLength(first8: Uint8Array): number {
  if (first8.length < 8) throw new SafetensorsError('file is shorter than the 8-byte header length');
  const n = new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true);
  if (n < 2n || n > BigInt(MAX_HEADER_BYTES)) throw new SafetensorsError(`header length ${n} is not plausible (2 B – ${MAX_HEADER_BYTES} B); not a safetensors file?`);
  return Number(n);
}

/** Parse the JSON header (the bytes after the 8-byte length). */
export function parseSafetensorsHeader(json: Uint8Array): SafetensorsHeader {
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder().decode(json));
  } catch {
    throw new SafetensorsError('header is not valid JSON');
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new SafetensorsError('header is not a JSON object');
  const tensors: SafetensorsTensor[] = [];
  const bytesByDtype: Record<string, number> = {};
  let metadata: Record<string, string> = {};
  let total = 0;
  for (const [name, value] of Object.entries(raw)) {
    if (name === '__metadata__') {
      metadata = z.record(z.string(), z.string()).catch({}).parse(value);
      continue;
    }
    const t = TensorEntry.safeParse(value);
    if (!t.success) throw new SafetensorsError(`tensor "${name}": ${t.error.issues[0]?.message ?? 'bad entry'}`);
    const [begin, end] = t.data.data_offsets;
    if (end < begin) throw new SafetensorsError(`tensor "${name}": data_offsets end ${end} before begin ${begin}`);
    const bytes = end - begin;
    const el = SAFETENSORS_DTYPE_BYTES[t.data.dtype];
    const numel = t.data.shape.reduce((a, b) => a * b, 1);
    if (el !== undefined && numel * el !== bytes) {
      throw new SafetensorsError(`tensor "${name}": ${t.data.dtype} ${JSON.stringify(t.data.shape)} needs ${numel * el} B but data_offsets span ${bytes} B`);
    }
    tensors.push({ name, dtype: t.data.dtype, shape: t.data.shape, bytes });
    bytesByDtype[t.data.dtype] = (bytesByDtype[t.data.dtype] ?? 0) + bytes;
    total += bytes;
  }
  return { tensors, totalBytes: total, bytesByDtype, metadata };
}

/** Read and parse only the header of a .safetensors file (never its tensor data). */
export function readSafetensorsHeader(path: string): SafetensorsHeader {
  const fd = openSync(path, 'r');
  try {
    const first = Buffer.alloc(8);
    if (readSync(fd, first, 0, 8, 0) < 8) throw new SafetensorsError(`${path}: shorter than the 8-byte header length`);
    const n = headerLength(first);
    const json = Buffer.alloc(n);
    if (readSync(fd, json, 0, n, 8) < n) throw new SafetensorsError(`${path}: header of ${n} B is cut short`);
    return parseSafetensorsHeader(json);
  } catch (e) {
    if (e instanceof SafetensorsError && !e.message.startsWith(path)) throw new SafetensorsError(`${path}: ${e.message}`);
    throw e;
  } finally {
    closeSync(fd);
  }
}
