/** `headroom estimate` run as a user runs it: the real CLI in a subprocess, one JSON object or one error line. */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/paths.ts';
import { writeGguf } from '../unit/estimator/fileWriters.ts';

const BIN = join(ROOT, 'server/bin/headroom.js');
const dir = mkdtempSync(join(tmpdir(), 'headroom-estimate-'));

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, 'estimate', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const REQUIRED = ['weightsBytes', 'kvCacheBytes', 'activationBytes', 'logitsBytes', 'overheadBytes', 'peakAllocatedBytes', 'deviceUsedBytes', 'fits', 'explanations'];

describe('headroom estimate', () => {
  it('prints one JSON object for a catalog model with the exact Llama-3-8B weights and KV', async () => {
    const r = await run(['--config', 'llama-3-8b', '--dtype', 'bf16', '--batch', '8', '--seq', '2048', '--json']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const e = JSON.parse(lines[0]!) as Record<string, unknown>;
    for (const k of REQUIRED) expect(e).toHaveProperty(k);
    expect(e.weightsBytes).toBe(16_060_522_496);
    expect(e.kvCacheBytes).toBe(2 ** 31);
    expect(e.fits).toBe(true);
  });

  it('matches the measured H200 prefill peak for Llama-3-8B b8×s8192 (32,473,424,896 B) within 1 %', async () => {
    const r = await run(['--config', 'llama-3-8b', '--dtype', 'bf16', '--batch', '8', '--seq', '8192', '--attn', 'sdpa', '--logits', 'last', '--gpu', 'h200', '--json']);
    const e = JSON.parse(r.stdout) as { peakAllocatedBytes: number; deviceUsedBytes: number };
    expect(Math.abs(e.peakAllocatedBytes - 32_473_424_896) / 32_473_424_896).toBeLessThan(0.01);
    expect(Math.abs(e.deviceUsedBytes - 36_854_104_064) / 36_854_104_064).toBeLessThan(0.03);
  });

  it('reads a config.json and honours --kv-dtype, --tp and --new-tokens', async () => {
    const cfg = join(dir, 'config.json');
    writeFileSync(cfg, JSON.stringify({ model_type: 'llama', num_hidden_layers: 80, hidden_size: 8192, num_attention_heads: 64, num_key_value_heads: 8, intermediate_size: 28672, vocab_size: 128256 }));
    const r = await run(['--config', cfg, '--dtype', 'bf16', '--batch', '4', '--seq', '1000', '--new-tokens', '24', '--kv-dtype', 'fp8', '--tp', '4', '--json']);
    expect(r.code).toBe(0);
    const e = JSON.parse(r.stdout) as { kvCacheBytes: number; tp: number; ncclBytes: number };
    expect(e.kvCacheBytes).toBe(4 * 1024 * 80 * 2 * 2 * 128); // 2 KV heads per rank, 1 byte each
    expect(e.tp).toBe(4);
    expect(e.ncclBytes).toBeGreaterThan(0);
  });

  it('estimates a GGUF file from its header with the llama.cpp engine', async () => {
    const path = join(dir, 'm.gguf');
    writeGguf(path, [
      ['general.architecture', 'string', 'llama'], ['llama.block_count', 'u32', 1], ['llama.embedding_length', 'u32', 64],
      ['llama.feed_forward_length', 'u32', 128], ['llama.attention.head_count', 'u32', 4], ['llama.vocab_size', 'u32', 32],
    ], [{ name: 'token_embd.weight', dims: [64, 32], type: 8, bytes: (64 * 32 / 32) * 34 }]);
    const r = await run(['--config', path, '--seq', '128', '--json']);
    expect(r.code).toBe(0);
    const e = JSON.parse(r.stdout) as { engine: string; weightsBytes: number };
    expect(e.engine).toBe('llamacpp');
    expect(e.weightsBytes).toBe(2176);
  });

  it('answers --solve max-batch with a batch that fits', async () => {
    const r = await run(['--config', 'llama-3-8b', '--seq', '8192', '--gpu', 'h100', '--solve', 'max-batch', '--json']);
    const e = JSON.parse(r.stdout) as { solve: { maxBatch: number } };
    expect(e.solve.maxBatch).toBeGreaterThan(1);
  });

  it('sizes a StaticCache with --max-cache-len: the measured H200 decode peak of Llama-3-8B b4×2048 in 8192 tokens within 0.1 %', async () => {
    const r = await run(['--config', 'llama-3-8b', '--dtype', 'bf16', '--batch', '4', '--seq', '2048', '--new-tokens', '16', '--engine', 'hf-static', '--max-cache-len', '8192', '--json']);
    expect(r.code).toBe(0);
    const e = JSON.parse(r.stdout) as { kvCacheBytes: number; decodePeakAllocatedBytes: number; explanations: Record<string, string> };
    expect(e.kvCacheBytes).toBe(4 * 8192 * 32 * 2 * 8 * 128 * 2); // h200_static.jsonl: 4,294,967,296 B
    expect(Math.abs(e.decodePeakAllocatedBytes - 20_926_238_720) / 20_926_238_720).toBeLessThanOrEqual(0.001);
    expect(e.explanations.kvCacheBytes).toMatch(/StaticCache: each layer's K and V buffers for 8192 tokens/);
  });

  it.each([
    [['--config', 'llama-3-8b', '--max-cache-len', '4096'], /--max-cache-len sizes a StaticCache: add --engine hf-static/],
    [['--config', 'llama-3-8b', '--engine', 'hf-static', '--seq', '4096', '--new-tokens', '16', '--max-cache-len', '4096'], /cannot hold the prompt and the new tokens \(--seq \+ --new-tokens = 4112\): raise it to at least 4112/],
    [['--config', 'not-a-model', '--json'], /"not-a-model" is neither a file, a folder nor a catalog model/],
    [['--config', 'llama-3-8b', '--batch', '0'], /--batch must be a whole number ≥ 1, got "0"/],
    [['--config', 'llama-3-8b', '--dtype', 'fp64'], /--dtype must be one of fp32, fp16, bf16; got "fp64"/],
    [['--config', 'llama-3-8b', '--tp', '3'], /tp 3 must divide the model's 32 attention heads/],
    [['--config', 'llama-3-8b', '--gpu', 'tpu'], /--gpu "tpu" is not in the catalog/],
    [['--batch', '2'], /--config <config.json \| model folder \| gguf \| catalog id> is required/],
    [['--config', 'llama-3-8b', '--frobnicate'], /Unknown option '--frobnicate'/],
  ])('exits 2 with one clear line for %j', async (args, message) => {
    const r = await run(args);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(message);
  });

  it('exits 2 for an unknown model_type, a config missing fields and an unreadable file', async () => {
    const bert = join(dir, 'bert.json');
    writeFileSync(bert, JSON.stringify({ model_type: 'bert', hidden_size: 768 }));
    const partial = join(dir, 'partial.json');
    writeFileSync(partial, JSON.stringify({ model_type: 'llama', hidden_size: 4096, num_attention_heads: 32 }));
    const broken = join(dir, 'broken.json');
    writeFileSync(broken, '{ not json');
    for (const [file, message] of [[bert, /unsupported model_type "bert"/], [partial, /missing "num_hidden_layers"/], [broken, /is not valid JSON/]] as const) {
      const r = await run(['--config', file, '--json']);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(message);
    }
  });
});
