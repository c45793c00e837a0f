/**
 * GGUF header reader (ggml/docs gguf.md, versions 2 and 3): magic "GGUF", version, tensor count, metadata
 * key/values, then tensor infos (name, dims, ggml type, offset). Only the header is read; each tensor's exact
 * bytes follow from its ggml type's block size and bytes per block (ggml-common.h / ggml.c type traits).
 * The parser reads through a ByteSource so tests can hand it a buffer and the CLI a file.
 */
import { closeSync, openSync, readSync } from 'node:fs';

export class GgufError extends Error {
  override name = 'GgufError';
}

/** ggml_type → [elements per block, bytes per block]. */
export const GGML_TYPES: Record<number, { name: string; block: number; bytes: number }> = {
  0: { name: 'F32', block: 1, bytes: 4 }, 1: { name: 'F16', block: 1, bytes: 2 },
  2: { name: 'Q4_0', block: 32, bytes: 18 }, 3: { name: 'Q4_1', block: 32, bytes: 20 },
  6: { name: 'Q5_0', block: 32, bytes: 22 }, 7: { name: 'Q5_1', block: 32, bytes: 24 },
  8: { name: 'Q8_0', block: 32, bytes: 34 }, 9: { name: 'Q8_1', block: 32, bytes: 36 },
  10: { name: 'Q2_K', block: 256, bytes: 84 }, 11: { name: 'Q3_K', block: 256, bytes: 110 },
  12: { name: 'Q4_K', block: 256, bytes: 144 }, 13: { name: 'Q5_K', block: 256, bytes: 176 },
  14: { name: 'Q6_K', block: 256, bytes: 210 }, 15: { name: 'Q8_K', block: 256, bytes: 292 },
  16: { name: 'IQ2_XXS', block: 256, bytes: 66 }, 17: { name: 'IQ2_XS', block: 256, bytes: 74 },
  18: { name: 'IQ3_XXS', block: 256, bytes: 98 }, 19: { name: 'IQ1_S', block: 256, bytes: 50 },
  20: { name: 'IQ4_NL', block: 32, bytes: 18 }, 21: { name: 'IQ3_S', block: 256, bytes: 110 },
  22: { name: 'IQ2_S', block: 256, bytes: 82 }, 23: { name: 'IQ4_XS', block: 256, bytes: 136 },
  24: { name: 'I8', block: 1, bytes: 1 }, 25: { name: 'I16', block: 1, bytes: 2 }, 26: { name: 'I32', block: 1, bytes: 4 },
  27: { name: 'I64', block: 1, bytes: 8 }, 28: { name: 'F64', block: 1, bytes: 8 }, 29: { name: 'IQ1_M', block: 256, bytes: 56 },
  30: { name: 'BF16', block: 1, bytes: 2 }, 34: { name: 'TQ1_0', block: 256, bytes: 54 }, 35: { name: 'TQ2_0', block: 256, bytes: 66 },
  39: { name: 'MXFP4', block: 32, bytes: 17 },
};

/** Random access to the file's bytes (sync). */
export interface ByteSource {
  read(offset: number, length: number): Uint8Array;
}

export type GgufValue = number | bigint | boolean | string | GgufValue[];

export interface GgufTensor {
  name: string;
  dims: number[];
  type: string;
  bytes: number;
}

export interface GgufHeader {
  version: number;
  metadata: Record<string, GgufValue>;
  tensors: GgufTensor[];
  totalBytes: number;
}

/** Arrays longer than this are skipped (tokenizer vocabularies): only their length is kept. */
const KEEP_ARRAY = 64;
const MAX_STRING = 1 << 20;

class Cursor {
  pos = 0;
  constructor(private readonly src: ByteSource) {}
  private take(n: number): DataView {
    const b = this.src.read(this.pos, n);
    if (b.length < n) throw new GgufError(`header cut short at byte ${this.pos} (wanted ${n} more bytes)`);
    this.pos += n;
    return new DataView(b.buffer, b.byteOffset, n);
  }
  u8 = (): number => this.take(1).getUint8(0);
  u32 = (): number => this.take(4).getUint32(0, true);
  u64 = (): number => {
    const v = this.take(8).getBigUint64(0, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new GgufError(`value ${v} at byte ${this.pos - 8} is too large`);
    return Number(v);
  };
  string(): string {
    const n = this.u64();
    if (n > MAX_STRING) throw new GgufError(`string of ${n} B at byte ${this.pos - 8} is not plausible`);
    const b = this.src.read(this.pos, n);
    this.pos += n;
    return new TextDecoder().decode(b);
  }
  value(type: number): GgufValue {
    const v = (n: number): DataView => this.take(n);
    switch (type) {
      case 0: return v(1).getUint8(0);
      case 1: return v(1).getInt8(0);
      case 2: return v(2).getUint16(0, true);
      case 3: return v(2).getInt16(0, true);
      case 4: return v(4).getUint32(0, true);
      case 5: return v(4).getInt32(0, true);
      case 6: return v(4).getFloat32(0, true);
      case 7: return v(1).getUint8(0) !== 0;
      case 8: return this.string();
      case 9: {
        const inner = this.u32();
        const n = this.u64();
        const out: GgufValue[] = [];
        for (let i = 0; i < n; i++) {
          const x = this.value(inner);
          if (i < KEEP_ARRAY) out.push(x);
        }
        if (n > KEEP_ARRAY) out.length = n; // keep the length (e.g. vocabulary size) without the items
        return out;
      }
      case 10: return v(8).getBigUint64(0, true);
      case 11: return v(8).getBigInt64(0, true);
      case 12: return v(8).getFloat64(0, true);
      default: throw new GgufError(`unknown metadata value type ${type} at byte ${this.pos - 4}`);
    }
  }
}

/** Exact bytes of a tensor: rows × ceil(ne0 / block) × bytes per block. */
export function ggmlTensorBytes(dims: number[], type: number): number {
  const t = GGML_TYPES[type];
  if (!t) throw new GgufError(`unknown ggml tensor type ${type}`);
  const [ne0 = 1, ...rest] = dims;
  if (ne0 % t.block !== 0) throw new GgufError(`row of ${ne0} elements is not a whole number of ${t.name} blocks (${t.block})`);
  return rest.reduce((a, b) => a * b, 1) * (ne0 / t.block) * t.bytes;
}

export function parseGgufHeader(src: ByteSource): GgufHeader {
  const c = new Cursor(src);
  if (c.u32() !== 0x46554747) throw new GgufError('not a GGUF file (magic is not "GGUF")');
  const version = c.u32();
  if (version < 2 || version > 3) throw new GgufError(`GGUF version ${version} is not supported (2 or 3)`);
  const tensorCount = c.u64();
  const kvCount = c.u64();
  if (tensorCount > 1_000_000 || kvCount > 1_000_000) throw new GgufError(`implausible counts (${tensorCount} tensors, ${kvCount} metadata keys)`);
  const metadata: Record<string, GgufValue> = {};
  for (let i = 0; i < kvCount; i++) {
    const key = c.string();
    metadata[key] = c.value(c.u32());
  }
  const tensors: GgufTensor[] = [];
  let total = 0;
  for (let i = 0; i < tensorCount; i++) {
    const name = c.string();
    const nDims = c.u32();
    if (nDims > 8) throw new GgufError(`tensor "${name}" has ${nDims} dimensions`);
    const dims: number[] = [];
    for (let d = 0; d < nDims; d++) dims.push(c.u64());
    const type = c.u32();
    c.u64(); // offset in the data section
    const bytes = ggmlTensorBytes(dims, type);
    tensors.push({ name, dims, type: GGML_TYPES[type]!.name, bytes });
    total += bytes;
  }
  return { version, metadata, tensors, totalBytes: total };
}

export function bufferSource(buf: Uint8Array): ByteSource {
  return { read: (offset, length) => buf.subarray(offset, Math.min(buf.length, offset + length)) };
}

/** Read only the header of a .gguf file, in 1 MiB chunks (never the tensor data). */
export function readGgufHeader(path: string): GgufHeader {
  const fd = openSync(path, 'r');
  const CHUNK = 1 << 20;
  const cache = new Map<number, Buffer>();
  const chunk = (i: number): Buffer => {
    let b = cache.get(i);
    if (!b) {
      const buf = Buffer.alloc(CHUNK);
      b = buf.subarray(0, readSync(fd, buf, 0, CHUNK, i * CHUNK));
      cache.set(i, b);
      if (cache.size > 64) cache.delete(cache.keys().next().value!);
    }
    return b;
  };
  const src: ByteSource = {
    read(offset, length) {
      const out = Buffer.alloc(length);
      let got = 0;
      while (got < length) {
        const i = Math.floor((offset + got) / CHUNK);
        const b = chunk(i);
        const from = offset + got - i * CHUNK;
        if (from >= b.length) break;
        const n = Math.min(length - got, b.length - from);
        b.copy(out, got, from, from + n);
        got += n;
      }
      return out.subarray(0, got);
    },
  };
  try {
    return parseGgufHeader(src);
  } catch (e) {
    if (e instanceof GgufError) throw new GgufError(`${path}: ${e.message}`);
    throw e;
  } finally {
    closeSync(fd);
  }
}
