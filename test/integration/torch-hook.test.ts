/**
 * The Python hook (server/integrations/pytorch/headroom_torch.py) run by CPython against a stub `torch`
 * (test/stubs/torch: only torch.cuda calls are faked). Its output must validate against the JSON Schema and
 * the zod parser, and carry the numbers the stub allocator holds. A SIGKILLed process leaves whole lines.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { setLogQuiet } from '../../server/log.ts';
import { TorchLogFollower } from '../../server/torch/logFollower.ts';
import { parseSidecarLine, SidecarLineSchema } from '../../server/torch/sidecar.ts';
import type { DataRecord } from '../../shared/data.ts';
import { ROOT } from '../support/paths.ts';
import { compileLogSchema } from '../unit/torch/schemaSupport.ts';

setLogQuiet(true);
const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'headroom-hook-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const env = { ...process.env, PYTHONPATH: `${ROOT}test/stubs:${ROOT}server/integrations/pytorch`, PYTHONDONTWRITEBYTECODE: '1' };
const SCENARIO = `${ROOT}test/stubs/hook_scenario.py`;
const validate = compileLogSchema();

type Line = Record<string, unknown> & { event?: Record<string, unknown> };
const readLines = (file: string): Line[] =>
  readFileSync(file, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Line);

describe('headroom_torch.py under CPython with a stub torch', () => {
  it('writes schema-valid samples and events with the allocator numbers, weights, KV cache and OOMs', async () => {
    const file = join(dir, 'nested', 'torch.jsonl');
    const { stdout } = await run('python3', [SCENARIO, file, 'full'], { env });
    const expected = JSON.parse(stdout) as { weights_by_dtype: Record<string, number>; kv_bytes: number; static_kv_bytes: number; reraised: boolean; passthrough: boolean };
    const lines = readLines(file);
    for (const l of lines) {
      expect(validate(l), JSON.stringify(l)).toBe(true);
      expect(SidecarLineSchema.safeParse(l).success, JSON.stringify(l)).toBe(true);
      expect(parseSidecarLine(JSON.stringify(l)).ok).toBe(true);
    }
    const events: Record<string, unknown>[] = lines.flatMap((l) => (l.event ? [{ ...l.event, device: l.device }] : []));
    const kinds = events.map((e) => e.kind);
    expect(kinds[0]).toBe('start');
    expect(kinds.at(-1)).toBe('end');
    expect(events.filter((e) => e.kind === 'phase').map((e) => e.name)).toEqual(['load_weights', 'prefill', 'release']);

    // Samples: one line per used device (0 and 1, not the untouched others), v1, pid, GPU UUID.
    const samples = lines.filter((l) => 'allocated' in l);
    expect(new Set(samples.map((s) => s.device))).toEqual(new Set([0, 1]));
    expect(samples.every((s) => s.v === 1 && typeof s.pid === 'number' && String(s.uuid).startsWith('GPU-'))).toBe(true);
    const prefill = samples.filter((s) => s.phase === 'prefill' && s.device === 0).at(-1)!;
    // Stub allocator: 35,024 B of weights + 128 B buffer + 65,536 B dynamic cache + 800 B static cache on GPU 0.
    expect(prefill.allocated).toBe(35_024 + 128 + expected.kv_bytes + expected.static_kv_bytes);
    expect(prefill.reserved).toBe(2 * 1024 * 1024);

    // Weights: bytes by dtype per device, tied parameters once, CPU ones marked.
    const w = events.filter((e) => e.kind === 'weights');
    expect(w.find((e) => e.device === 0)).toMatchObject({ total_bytes: 35_024, bytes_by_dtype: { bfloat16: 34_768, float32: 256 }, buffer_bytes: 128 });
    expect(w.find((e) => e.device === 1)).toMatchObject({ total_bytes: 1024 });
    expect(w.find((e) => e.device === undefined)).toMatchObject({ location: 'cpu', total_bytes: 512 });
    expect(expected.weights_by_dtype).toEqual({ bfloat16: 34_768 + 1024 + 512, float32: 256 });

    // KV cache: 8 layers × (keys + values) × 2048 bf16 elements; a view of keys counted once.
    expect(expected.kv_bytes).toBe(8 * 2 * 2048 * 2);
    expect(expected.static_kv_bytes).toBe(2 * 2 * 100 * 2);
    const kv = events.filter((e) => e.kind === 'kv_cache').map((e) => [e.cache_class ?? null, e.bytes]);
    expect(kv).toEqual([['DynamicCache', expected.kv_bytes], ['StaticCache', expected.static_kv_bytes], [null, 0]]);

    // OOM: the observer's event and the exception's message, from the guard and from the decorator.
    const ooms = events.filter((e) => e.kind === 'oom');
    expect(ooms.map((e) => e.source)).toEqual(['observer', 'exception', 'observer', 'exception']);
    expect(ooms[0]).toMatchObject({ alloc: 42 * 2 ** 30 });
    expect(ooms[1]).toMatchObject({ batch: 96, device: 0 });
    expect(String(ooms[1]!.message)).toMatch(/^CUDA out of memory\. Tried to allocate 42\.00 GiB/);
    expect(expected.reraised).toBe(true);
    expect(expected.passthrough).toBe(true);
    const afterOom = samples.find((s) => s.device === 0 && (s.num_ooms as number) >= 1);
    expect(afterOom).toMatchObject({ num_alloc_retries: 1, num_ooms: 1 });

    // Release: fragmentation left after the cache is freed shows as inactive_split.
    expect(samples.filter((s) => s.device === 0).at(-1)).toMatchObject({ phase: 'release', inactive_split: expected.kv_bytes / 4 });
  });

  it('leaves only whole lines when the process is killed, losing at most the last interval', async () => {
    const file = join(dir, 'crash.jsonl');
    const got: DataRecord[] = [];
    let onRecord = (): void => undefined;
    const follower = new TorchLogFollower({ paths: [file], fromStart: true, pollMs: 20, sink: { record: (r) => (got.push(r), onRecord()) } });
    await follower.start();
    const child = spawn('python3', [SCENARIO, file, 'crash'], { env, stdio: 'ignore' });
    const exited = new Promise<NodeJS.Signals | null>((r) => child.on('exit', (_code, signal) => r(signal)));
    // Kill as soon as the tail has seen 5 samples: the writer is mid-run, sampling every 20 ms.
    await new Promise<void>((resolve) => {
      onRecord = () => {
        if (got.filter((r) => r.kind === 'torch').length >= 5) resolve();
      };
    });
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    await follower.checkNow();
    expect(follower.stats()[0]).toMatchObject({ malformedLines: 0, oversizeLines: 0 });
    await follower.stop();
    const text = readFileSync(file, 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    const lines = text.split('\n').filter((l) => l !== '');
    expect(lines.every((l) => parseSidecarLine(l).ok)).toBe(true);
    expect(lines.length).toBe(got.length);
  });
});
