/**
 * The PyTorch log tail against real files on disk, written while it follows them (by this process and by a
 * separate writer process): partial lines, CRLF, rotation, truncation, deletion and re-creation, oversize
 * and malformed lines, folders. Waits are event-driven: a test resumes when the records it needs arrive.
 */
import { spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, renameSync, rmSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { setLogQuiet } from '../../server/log.ts';
import { TorchLogFollower } from '../../server/torch/logFollower.ts';
import type { DataRecord, TorchSample } from '../../shared/data.ts';

setLogQuiet(true);

let dir: string;
let follower: TorchLogFollower | null = null;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'headroom-tail-'));
});
afterEach(async () => {
  await follower?.stop();
  follower = null;
  rmSync(dir, { recursive: true, force: true });
});

/** Collects records; `until` resolves as soon as the predicate holds (checked on every record). */
class Collector {
  records: DataRecord[] = [];
  #waiters: { pred: () => boolean; resolve: () => void }[] = [];
  record = (r: DataRecord): void => {
    this.records.push(r);
    this.#waiters = this.#waiters.filter((w) => (w.pred() ? (w.resolve(), false) : true));
  };
  get samples(): TorchSample[] {
    return this.records.flatMap((r) => (r.kind === 'torch' ? [r.sample] : []));
  }
  until(pred: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
    if (pred()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`gave up waiting for ${what}; got ${this.records.length} records`)), timeoutMs);
      this.#waiters.push({ pred, resolve: () => (clearTimeout(timer), resolve()) });
    });
  }
  untilSamples(n: number): Promise<void> {
    return this.until(() => this.samples.length >= n, `${n} samples`);
  }
}

function line(step: number, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ v: 1, ts: 1795234928 + step / 10, pid: 423, device: 0, allocated: step * 1024, reserved: step * 2048, ...extra });
}
const lines = (from: number, to: number): string => Array.from({ length: to - from }, (_, i) => `${line(from + i)}\n`).join('');
const steps = (c: Collector): number[] => c.samples.map((s) => s.allocatedBytes / 1024);

async function follow(paths: string[], fromStart = false): Promise<{ c: Collector; f: TorchLogFollower }> {
  const c = new Collector();
  const f = new TorchLogFollower({ paths, fromStart, sink: c, pollMs: 40 });
  follower = f;
  await f.start();
  return { c, f };
}

describe('the PyTorch log tail', () => {
  it('starts at the end of an existing file by default, and reads history with --from-start', async () => {
    const file = join(dir, 'torch.jsonl');
    writeFileSync(file, lines(0, 5));
    const { c } = await follow([file]);
    appendFileSync(file, lines(5, 7));
    await c.untilSamples(2);
    expect(steps(c)).toEqual([5, 6]);
    await follower?.stop();

    const { c: c2 } = await follow([file], true);
    await c2.untilSamples(7);
    expect(steps(c2)).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  it('holds a partial last line until its newline arrives, and reads CRLF lines', async () => {
    const file = join(dir, 'torch.jsonl');
    writeFileSync(file, '');
    const { c, f } = await follow([file]);
    const text = line(1);
    appendFileSync(file, text.slice(0, 30));
    await f.checkNow();
    expect(c.records).toHaveLength(0);
    appendFileSync(file, `${text.slice(30)}\r\n${line(2)}\r\n`);
    await c.untilSamples(2);
    expect(steps(c)).toEqual([1, 2]);
    expect(f.stats()[0]).toMatchObject({ malformedLines: 0, records: 2 });
  });

  it('follows a rotation: reads the rest of the renamed file, then the new file from its start', async () => {
    const file = join(dir, 'torch.jsonl');
    writeFileSync(file, '');
    const { c, f } = await follow([file]);
    appendFileSync(file, lines(0, 3));
    await c.untilSamples(3);
    renameSync(file, `${file}.1`);
    appendFileSync(`${file}.1`, lines(3, 4)); // the writer still had the old file open
    writeFileSync(file, lines(4, 6));
    await c.untilSamples(6);
    expect(steps(c)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(f.stats()[0]).toMatchObject({ rotations: 1, truncations: 0 });
  });

  it('reads again from the start after a truncation', async () => {
    const file = join(dir, 'torch.jsonl');
    writeFileSync(file, '');
    const { c, f } = await follow([file]);
    appendFileSync(file, lines(0, 4));
    await c.untilSamples(4);
    truncateSync(file, 0);
    appendFileSync(file, lines(10, 11));
    await c.untilSamples(5);
    expect(steps(c)).toEqual([0, 1, 2, 3, 10]);
    expect(f.stats()[0]).toMatchObject({ truncations: 1, rotations: 0 });
  });

  it('survives deletion and re-creation, and waits for a file that does not exist yet', async () => {
    const file = join(dir, 'later', 'torch.jsonl');
    const { c, f } = await follow([file]);
    mkdirSync(join(dir, 'later'));
    writeFileSync(file, lines(0, 2));
    await c.untilSamples(2);
    unlinkSync(file);
    await f.checkNow();
    expect(f.stats()[0]).toMatchObject({ deletions: 1 });
    writeFileSync(file, lines(2, 4));
    await c.untilSamples(4);
    expect(steps(c)).toEqual([0, 1, 2, 3]);
  });

  it('skips and counts lines over 1 MiB and malformed lines, keeping unknown keys', async () => {
    const file = join(dir, 'torch.jsonl');
    writeFileSync(file, '');
    const { c, f } = await follow([file]);
    const huge = JSON.stringify({ v: 1, ts: 1, pid: 1, event: { kind: 'blob', data: 'x'.repeat(3 * 1024 * 1024) } });
    appendFileSync(file, huge.slice(0, 1_500_000)); // over the limit before its newline arrives
    await f.checkNow();
    appendFileSync(file, `${huge.slice(1_500_000)}\n`);
    appendFileSync(file, '{"ts": 1, "pid": \n');
    appendFileSync(file, 'not json at all\n');
    appendFileSync(file, `${JSON.stringify({ v: 1, ts: 1, pid: 1, device: 0, allocated: -5, reserved: 1 })}\n`);
    appendFileSync(file, `${line(7, { my_key: 'kept', event: { kind: 'my_marker', detail: { a: 1 } } })}\n`);
    await c.until(() => c.records.length >= 2, 'the good line');
    expect(f.stats()[0]).toMatchObject({ oversizeLines: 1, malformedLines: 3, records: 2 });
    expect(c.records[1]).toMatchObject({ kind: 'torchEvent', event: { kind: 'my_marker', facts: { detail: { a: 1 } } } });
    expect(steps(c)).toEqual([7]);
  });

  it('follows a folder, picking up new log files from their start', async () => {
    writeFileSync(join(dir, 'old.jsonl'), lines(0, 3));
    writeFileSync(join(dir, 'notes.txt'), 'not a log\n');
    const { c } = await follow([dir]);
    writeFileSync(join(dir, 'new.jsonl'), lines(100, 102));
    appendFileSync(join(dir, 'old.jsonl'), lines(3, 4));
    await c.untilSamples(3);
    expect(steps(c).sort((a, b) => a - b)).toEqual([3, 100, 101]);
  });

  it('reads every line, in order, from a separate process writing concurrently in odd-sized pieces', async () => {
    const file = join(dir, 'torch.jsonl');
    writeFileSync(file, '');
    const { c, f } = await follow([file]);
    const count = 3000;
    const writer = spawn(process.execPath, ['-e', WRITER, file, String(count)], { stdio: 'ignore' });
    const exited = new Promise<number | null>((r) => writer.on('exit', r));
    await c.untilSamples(count);
    expect(await exited).toBe(0);
    expect(steps(c)).toEqual(Array.from({ length: count }, (_, i) => i));
    expect(f.stats()[0]).toMatchObject({ malformedLines: 0, oversizeLines: 0 });
  });
});

/** A writer process: appends `count` lines in random-sized pieces (cutting lines and CRLFs), yielding between. */
const WRITER = `
const fs = require('node:fs');
const [file, n] = process.argv.slice(1);
let text = '';
for (let i = 0; i < Number(n); i++) text += JSON.stringify({ v: 1, ts: 1795234928 + i / 10, pid: 7, device: 0, allocated: i * 1024, reserved: i * 2048 }) + (i % 3 ? '\\n' : '\\r\\n');
const fd = fs.openSync(file, 'a');
let pos = 0;
(function next() {
  for (let k = 0; k < 20 && pos < text.length; k++) {
    const len = 1 + Math.floor(Math.random() * 300);
    fs.writeSync(fd, text.slice(pos, pos + len));
    pos += len;
  }
  if (pos < text.length) setImmediate(next); else fs.closeSync(fd);
})();
`;
