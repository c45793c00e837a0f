import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseSidecarLine, SidecarLineSchema } from '../../../server/torch/sidecar.ts';
import { FIXTURES, SESSION_DIR } from '../../support/paths.ts';
import { compileLogSchema } from './schemaSupport.ts';

const FIXTURE_LOGS = [
  `${SESSION_DIR}torch_mem_main.jsonl`,
  `${SESSION_DIR}torch_mem_side.jsonl`,
  `${FIXTURES}sessions/phased_llama3_8b_fp32_then_bf16.jsonl`,
  // What headroom_torch.py wrote on a real H200 (torch 2.11, transformers 5.17): llama_inference.py.
  new URL('./fixtures/h200-hook-run/torch.jsonl', import.meta.url).pathname,
];

const jsonSchemaAccepts = compileLogSchema();
const zodAccepts = (v: unknown): boolean => SidecarLineSchema.safeParse(v).success;

const sample = { v: 1, ts: 1795234928.35, pid: 423, device: 0, allocated: 100, reserved: 200 };

/** Lines both validators must judge the same way, with the verdict. */
const CASES: [string, unknown, boolean][] = [
  ['a v1 sample', sample, true],
  ['a sample with every optional field and unknown keys', { ...sample, uuid: 'GPU-1', rank: 0, step: 3, phase: 'decode', active: 1, inactive_split: 2, peak_allocated: 3, num_alloc_retries: 0, num_ooms: 0, free: 5, total: 9, my_key: [1] }, true],
  ['nulls where nullable', { ...sample, active: null, inactive_split: null, free: null, uuid: null, phase: null }, true],
  ['an event-only line', { v: 1, ts: 1, pid: 1, event: { kind: 'end' } }, true],
  ['an unknown event kind with facts', { ts: 1, pid: 1, event: { kind: 'my_marker', x: { y: 1 } } }, true],
  ['a weights event', { ts: 1, pid: 1, device: 0, event: { kind: 'weights', total_bytes: 10, bytes_by_dtype: { bfloat16: 10 }, params: 5 } }, true],
  ['a kv_cache event', { ts: 1, pid: 1, device: 0, event: { kind: 'kv_cache', bytes: 0 } }, true],
  ['an oom event from the observer', { ts: 1, pid: 1, event: { kind: 'oom', source: 'observer', alloc: 5, device_free: 1 } }, true],
  ['v 2 (a newer hook)', { ...sample, v: 2 }, false],
  ['no ts', { pid: 1, device: 0, allocated: 1, reserved: 1 }, false],
  ['ts 0', { ...sample, ts: 0 }, false],
  ['a string pid', { ...sample, pid: '423' }, false],
  ['negative bytes', { ...sample, allocated: -1 }, false],
  ['fractional bytes', { ...sample, reserved: 1.5 }, false],
  ['allocated without reserved', { v: 1, ts: 1, pid: 1, device: 0, allocated: 1 }, false],
  ['a sample without device', { v: 1, ts: 1, pid: 1, allocated: 1, reserved: 1 }, false],
  ['a sample with device null', { ...sample, device: null }, false],
  ['neither numbers nor event', { v: 1, ts: 1, pid: 1, device: 0 }, false],
  ['an event without kind', { ts: 1, pid: 1, event: { name: 'x' } }, false],
  ['a phase event without name', { ts: 1, pid: 1, event: { kind: 'phase' } }, false],
  ['a kv_cache event without bytes', { ts: 1, pid: 1, event: { kind: 'kv_cache' } }, false],
  ['a weights event with a string byte count', { ts: 1, pid: 1, event: { kind: 'weights', total_bytes: 1, bytes_by_dtype: { bf16: '1' } } }, false],
  ['an oom event with an unknown source', { ts: 1, pid: 1, event: { kind: 'oom', source: 'guess' } }, false],
  ['an array', [sample], false],
];

describe('the PyTorch log schema (JSON Schema file and zod parser)', () => {
  it.each(CASES)('agree on %s', (_name, value, verdict) => {
    expect(jsonSchemaAccepts(value)).toBe(verdict);
    expect(zodAccepts(value)).toBe(verdict);
  });

  it.each(FIXTURE_LOGS)('both accept every line of the recorded capture %s', (file) => {
    const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '');
    expect(lines.length).toBeGreaterThan(50);
    for (const line of lines) {
      const value: unknown = JSON.parse(line);
      expect(jsonSchemaAccepts(value), line).toBe(true);
      expect(zodAccepts(value), line).toBe(true);
    }
  });

  it('turns a capture line into a sample and an event, keeping unknown keys', () => {
    const r = parseSidecarLine(JSON.stringify({ ...sample, phase: 'serving', rank: 1, extra_key: 'kept', event: { kind: 'request_end', id: 1, kv_bytes: 5 } }));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.sample).toMatchObject({ timestampMs: 1795234928350, pid: 423, device: 0, allocatedBytes: 100, reservedBytes: 200, phase: 'serving', activeBytes: null });
    expect(r.value.event).toMatchObject({ kind: 'request_end', facts: { id: 1, kv_bytes: 5 } });
    expect(r.value.extra).toEqual({ extra_key: 'kept' });
  });

  it('says why a line from a newer hook is rejected', () => {
    const r = parseSidecarLine(JSON.stringify({ ...sample, v: 2 }));
    expect(r).toMatchObject({ ok: false });
    if (!r.ok) expect(r.error).toContain('upgrade Headroom');
  });
});
