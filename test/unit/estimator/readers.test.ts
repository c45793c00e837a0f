/** safetensors and GGUF header readers on real files written with the formats' binary layout. */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { estimate, findGpu } from '../../../shared/estimator/index.ts';
import { GgufError, readGgufHeader } from '../../../server/estimate/gguf.ts';
import { resolveModelArg } from '../../../server/estimate/model.ts';
import { readSafetensorsHeader, SafetensorsError } from '../../../server/estimate/safetensors.ts';
import { writeGguf, writeSafetensors } from './fileWriters.ts';

const dir = mkdtempSync(join(tmpdir(), 'headroom-readers-'));

/** A tiny Llama: 2 layers, h 64, 4 heads (2 KV), I 128, V 256, untied. */
const tiny = { model_type: 'llama', num_hidden_layers: 2, hidden_size: 64, num_attention_heads: 4, num_key_value_heads: 2, intermediate_size: 128, vocab_size: 256, tie_word_embeddings: false, torch_dtype: 'bfloat16' };

function tinyTensors(layer: number) {
  const p = `model.layers.${layer}.`;
  return [
    { name: `${p}self_attn.q_proj.weight`, dtype: 'BF16', shape: [64, 64], elementBytes: 2 },
    { name: `${p}self_attn.k_proj.weight`, dtype: 'BF16', shape: [32, 64], elementBytes: 2 },
    { name: `${p}self_attn.v_proj.weight`, dtype: 'BF16', shape: [32, 64], elementBytes: 2 },
    { name: `${p}self_attn.o_proj.weight`, dtype: 'BF16', shape: [64, 64], elementBytes: 2 },
    { name: `${p}mlp.gate_proj.weight`, dtype: 'BF16', shape: [128, 64], elementBytes: 2 },
    { name: `${p}mlp.up_proj.weight`, dtype: 'BF16', shape: [128, 64], elementBytes: 2 },
    { name: `${p}mlp.down_proj.weight`, dtype: 'BF16', shape: [64, 128], elementBytes: 2 },
    { name: `${p}input_layernorm.weight`, dtype: 'BF16', shape: [64], elementBytes: 2 },
    { name: `${p}post_attention_layernorm.weight`, dtype: 'BF16', shape: [64], elementBytes: 2 },
  ];
}

describe('safetensors header reader', () => {
  it('sums exact bytes per tensor from a real two-shard checkpoint and matches the config count', () => {
    const folder = join(dir, 'tiny-llama');
    mkdirSync(folder);
    writeFileSync(join(folder, 'config.json'), JSON.stringify(tiny));
    const a = writeSafetensors(join(folder, 'model-00001-of-00002.safetensors'), [
      { name: 'model.embed_tokens.weight', dtype: 'BF16', shape: [256, 64], elementBytes: 2 }, ...tinyTensors(0),
    ]);
    const b = writeSafetensors(join(folder, 'model-00002-of-00002.safetensors'), [
      ...tinyTensors(1), { name: 'model.norm.weight', dtype: 'BF16', shape: [64], elementBytes: 2 }, { name: 'lm_head.weight', dtype: 'BF16', shape: [256, 64], elementBytes: 2 },
    ]);
    const r = resolveModelArg(folder);
    expect(r.weightsBytesExact).toBe(a + b);
    const e = estimate({ model: r.model, weightsBytesExact: r.weightsBytesExact, dtype: 'bf16', batch: 1, promptTokens: 16, gpu: findGpu('h200')! });
    expect(e.weightsBytes).toBe(a + b);
    expect(e.weightsBytes).toBe(e.params * 2); // headers and config agree for a plain bf16 checkpoint
  });

  it('reads GPTQ packing exactly (I32 qweight/qzeros/g_idx, F16 scales) and keeps the metadata', () => {
    const path = join(dir, 'gptq.safetensors');
    const bytes = writeSafetensors(path, [
      { name: 'q.qweight', dtype: 'I32', shape: [64 * 4 / 32, 128], elementBytes: 4 },
      { name: 'q.qzeros', dtype: 'I32', shape: [1, 128 * 4 / 32], elementBytes: 4 },
      { name: 'q.scales', dtype: 'F16', shape: [1, 128], elementBytes: 2 },
      { name: 'q.g_idx', dtype: 'I32', shape: [64], elementBytes: 4 },
    ], { format: 'pt', quant: 'gptq' });
    const h = readSafetensorsHeader(path);
    expect(h.totalBytes).toBe(bytes);
    expect(h.totalBytes).toBe(8 * 128 * 4 + 16 * 4 + 128 * 2 + 64 * 4);
    expect(h.bytesByDtype).toEqual({ I32: 8 * 128 * 4 + 16 * 4 + 64 * 4, F16: 256 });
    expect(h.metadata.quant).toBe('gptq');
  });

  it('rejects a file that is not safetensors, naming the path', () => {
    const path = join(dir, 'junk.safetensors');
    writeFileSync(path, 'definitely not a safetensors header at all');
    expect(() => readSafetensorsHeader(path)).toThrow(SafetensorsError);
    expect(() => readSafetensorsHeader(path)).toThrow(/junk\.safetensors: header length/);
  });

  it('rejects offsets that disagree with dtype × shape', () => {
    const path = join(dir, 'bad.safetensors');
    const json = JSON.stringify({ w: { dtype: 'F32', shape: [4], data_offsets: [0, 8] } });
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.length));
    writeFileSync(path, Buffer.concat([len, Buffer.from(json), Buffer.alloc(8)]));
    expect(() => readSafetensorsHeader(path)).toThrow(/needs 16 B but data_offsets span 8 B/);
  });
});

describe('GGUF header reader', () => {
  const kvs = [
    ['general.architecture', 'string', 'llama'], ['general.name', 'string', 'tiny-q4'],
    ['llama.block_count', 'u32', 2], ['llama.embedding_length', 'u32', 256], ['llama.feed_forward_length', 'u32', 512],
    ['llama.attention.head_count', 'u32', 4], ['llama.attention.head_count_kv', 'u32', 2], ['llama.context_length', 'u32', 4096],
    ['llama.rope.freq_base', 'f32', 500000], ['tokenizer.ggml.tokens', 'strings', Array.from({ length: 512 }, (_, i) => `t${i}`)],
  ] as const;
  // type ids: 0 F32, 1 F16, 2 Q4_0, 8 Q8_0, 12 Q4_K, 14 Q6_K
  const tensors = [
    { name: 'token_embd.weight', dims: [256, 512], type: 12, bytes: (512 * 256 / 256) * 144 },
    { name: 'output.weight', dims: [256, 512], type: 14, bytes: (512 * 256 / 256) * 210 },
    { name: 'output_norm.weight', dims: [256], type: 0, bytes: 256 * 4 },
    ...[0, 1].flatMap((l) => [
      { name: `blk.${l}.attn_q.weight`, dims: [256, 256], type: 2, bytes: (256 * 256 / 32) * 18 },
      { name: `blk.${l}.attn_k.weight`, dims: [256, 128], type: 2, bytes: (256 * 128 / 32) * 18 },
      { name: `blk.${l}.attn_v.weight`, dims: [256, 128], type: 8, bytes: (256 * 128 / 32) * 34 },
      { name: `blk.${l}.attn_output.weight`, dims: [256, 256], type: 2, bytes: (256 * 256 / 32) * 18 },
      { name: `blk.${l}.ffn_gate.weight`, dims: [256, 512], type: 12, bytes: (256 * 512 / 256) * 144 },
      { name: `blk.${l}.ffn_up.weight`, dims: [256, 512], type: 12, bytes: (256 * 512 / 256) * 144 },
      { name: `blk.${l}.ffn_down.weight`, dims: [512, 256], type: 14, bytes: (256 * 512 / 256) * 210 },
      { name: `blk.${l}.attn_norm.weight`, dims: [256], type: 0, bytes: 1024 },
      { name: `blk.${l}.ffn_norm.weight`, dims: [256], type: 0, bytes: 1024 },
    ]),
  ];
  const path = join(dir, 'tiny-q4.gguf');
  writeGguf(path, kvs.map((k) => [...k] as [string, 'u32' | 'f32' | 'string' | 'strings', number | string | string[]]), tensors);

  it('turns tensor types into exact bytes (block formats) from the header alone', () => {
    const h = readGgufHeader(path);
    expect(h.version).toBe(3);
    expect(h.tensors).toHaveLength(tensors.length);
    expect(h.totalBytes).toBe(tensors.reduce((s, t) => s + t.bytes, 0));
    expect(h.tensors.find((t) => t.name === 'blk.0.attn_v.weight')?.type).toBe('Q8_0');
  });

  it('builds the model from the metadata (vocabulary from the tokenizer) and defaults to llama.cpp', () => {
    const r = resolveModelArg(path);
    expect(r.gguf).toBe(true);
    expect(r.model).toMatchObject({ layers: 2, hidden: 256, heads: 4, kvHeads: 2, intermediate: 512, vocab: 512, tiedEmbeddings: false, maxPositions: 4096 });
    expect(r.weightsBytesExact).toBe(tensors.reduce((s, t) => s + t.bytes, 0));
  });

  it('rejects a file without the GGUF magic', () => {
    const bad = join(dir, 'bad.gguf');
    writeFileSync(bad, Buffer.alloc(64, 1));
    expect(() => readGgufHeader(bad)).toThrow(GgufError);
    expect(() => readGgufHeader(bad)).toThrow(/bad\.gguf: not a GGUF file/);
  });

  it('rejects a truncated header', () => {
    const cut = join(dir, 'cut.gguf');
    writeFileSync(cut, Buffer.from('GGUF\x03\x00\x00\x00\x05\x00\x00\x00', 'latin1'));
    expect(() => readGgufHeader(cut)).toThrow(/cut short/);
  });
});
