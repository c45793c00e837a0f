/** The real `headroom` command as a user runs it: bad input gets one clear line and a non-zero exit. */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../support/paths.ts';

const BIN = join(ROOT, 'server/bin/headroom.js');

function run(args: string[], untilOutput?: RegExp): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, PATH: '/usr/bin:/bin' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let killed = false;
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (!killed && untilOutput?.test(stderr)) {
        killed = true;
        child.kill('SIGTERM');
      }
    });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const dir = mkdtempSync(join(tmpdir(), 'headroom-cli-'));

describe('headroom CLI', () => {
  let blocker: Server | null = null;
  afterAll(() => blocker?.close());

  it('prints help and exits 0', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('--source auto|replay|live');
  });

  it('rejects an unknown flag with exit 2', async () => {
    const r = await run(['--frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^headroom: Unknown option '--frobnicate'\. Run headroom --help/m);
  });

  it('rejects a missing replay file with exit 2 and the path', async () => {
    const r = await run(['--source', 'replay', '--replay', join(dir, 'missing.jsonl'), '--port', '0']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`cannot read replay file ${join(dir, 'missing.jsonl')} (ENOENT)`);
  });

  it('rejects a malformed replay file with exit 2 and the line', async () => {
    const bad = join(dir, 'bad.jsonl');
    writeFileSync(bad, 'this is not a recording\n');
    const r = await run(['--source', 'replay', '--replay', bad, '--port', '0']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bad\.jsonl:1: not valid JSON/);
  });

  it('rejects a port in use with exit 2 and what to do', async () => {
    blocker = createServer();
    await new Promise<void>((r) => blocker!.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    const r = await run(['--source', 'replay', '--port', String(port)]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`port ${port} on 127.0.0.1 is in use; pass --port`);
  });

  it('says live needs nvidia-smi when there is none', async () => {
    const r = await run(['--source', 'live', '--port', '0']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/nvidia-smi not found on PATH/);
  });

  it('starts in replay mode when there is no nvidia-smi (auto) and prints the URL', async () => {
    const r = await run(['--port', '0'], /open http:\/\/127\.0\.0\.1:\d+\//);
    expect(r.stderr).toMatch(/Replay of a recorded session on NVIDIA H200 — not live — open http:\/\/127\.0\.0\.1:\d+\//);
    expect(r.code).toBe(0);
  });

  it('rejects an unknown subcommand with exit 2', async () => {
    const r = await run(['frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown command "frobnicate"/);
  });
});
