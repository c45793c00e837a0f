/**
 * Writers of small but real safetensors and GGUF files (the on-disk binary layout, tensor data included),
 * so the header readers are tested on genuine files rather than on mocked parsers.
 */
import { writeFileSync } from 'node:fs';

export interface StTensor {
  name: string;
  dtype: string;
  shape: number[];
  /** Bytes per element (packed I32 for GPTQ is 4). */
  elementBytes: number;
}

/** safetensors: u64 LE header length, JSON header (space-padded to 8 bytes), then the raw tensor bytes. */
export function writeSafetensors(path: string, tensors: StTensor[], metadata: Record<string, string> = { format: 'pt' }): number {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const t of tensors) {
    const bytes = t.shape.reduce((a, b) => a * b, 1) * t.elementBytes;
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  const data = Buffer.alloc(offset, 0x3c);
  writeFileSync(path, Buffer.concat([len, Buffer.from(json), data]));
  return offset;
}

type KV = [key: string, type: 'u32' | 'f32' | 'string' | 'strings' | 'u64', value: number | string | string[]];

function ggufString(s: string): Buffer {
  const b = Buffer.from(s);
  const n = Buffer.alloc(8);
  n.writeBigUInt64LE(BigInt(b.length));
  return Buffer.concat([n, b]);
}

function u32(x: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(x);
  return b;
}

function u64(x: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(x));
  return b;
}

/** GGUF v3: magic, version, counts, metadata KVs, tensor infos, padding to 32, then tensor data. */
export function writeGguf(path: string, kvs: KV[], tensors: { name: string; dims: number[]; type: number; bytes: number }[]): void {
  const parts: Buffer[] = [Buffer.from('GGUF'), u32(3), u64(tensors.length), u64(kvs.length)];
  for (const [key, type, value] of kvs) {
    parts.push(ggufString(key));
    if (type === 'u32') parts.push(u32(4), u32(value as number));
    else if (type === 'u64') parts.push(u32(10), u64(value as number));
    else if (type === 'f32') {
      const b = Buffer.alloc(4);
      b.writeFloatLE(value as number);
      parts.push(u32(6), b);
    } else if (type === 'string') parts.push(u32(8), ggufString(value as string));
    else parts.push(u32(9), u32(8), u64((value as string[]).length), ...(value as string[]).map(ggufString));
  }
  let offset = 0;
  for (const t of tensors) {
    parts.push(ggufString(t.name), u32(t.dims.length), ...t.dims.map(u64), u32(t.type), u64(offset));
    offset += Math.ceil(t.bytes / 32) * 32;
  }
  const head = Buffer.concat(parts);
  const pad = Buffer.alloc((32 - (head.length % 32)) % 32);
  writeFileSync(path, Buffer.concat([head, pad, Buffer.alloc(offset, 7)]));
}
