/**
 * `npm run build`'s bundle: built into a folder outside the repository (so no node_modules can be found from
 * it), it runs with plain `node headroom.js`: live against the fake nvidia-smi, and replaying the second
 * bundled recording.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { HealthResponse } from '../../shared/contract.ts';
import { ROOT } from '../support/paths.ts';
import { FAKE_SMI } from './live-support.ts';

const out = mkdtempSync(join(tmpdir(), 'headroom-bundle-'));
let child: ChildProcess | null = null;

afterEach(() => {
  child?.kill('SIGTERM');
  child = null;
});

/** Start the bundle and resolve with the URL it prints. */
function startBundle(args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [join(out, 'headroom.js'), '--port', '0', ...args], {
      cwd: out,
      env: { PATH: process.env.PATH, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = c;
    let stderr = '';
    c.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
      const m = /open (http:\/\/127\.0\.0\.1:\d+\/)/.exec(stderr);
      if (m?.[1]) resolve(m[1]);
    });
    c.on('close', (code) => reject(new Error(`bundle exited ${code}: ${stderr}`)));
  });
}

async function health(url: string): Promise<HealthResponse> {
  return (await (await fetch(`${url}api/health`)).json()) as HealthResponse;
}

describe('the bundle (dist/headroom.js)', () => {
  beforeAll(() => {
    const r = spawnSync(process.execPath, [join(ROOT, 'server/scripts/build-server.mjs'), '--out', out], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`build-server failed: ${r.stderr}`);
  }, 60_000);

  it('holds the agent, the client and the recordings', () => {
    for (const f of ['headroom.js', 'client/index.html', 'recordings/h200-serving.jsonl', 'recordings/h200-live-100ms.jsonl']) {
      expect(existsSync(join(out, f)), f).toBe(true);
    }
  });

  it('runs live against nvidia-smi without node_modules and serves the client', async () => {
    const url = await startBundle(['--source', 'live', '--nvidia-smi', FAKE_SMI, '--interval-ms', '50']);
    let h: HealthResponse | null = null;
    for (let i = 0; i < 200 && !(h?.ok && h.gpus === 2); i++) {
      h = await health(url);
      if (!(h.ok && h.gpus === 2)) await new Promise((r) => setTimeout(r, 50));
    }
    expect(h?.source).toMatchObject({ kind: 'live', status: 'running', label: 'Live: 2 × NVIDIA H200 via nvidia-smi every 50 ms' });
    const page = await (await fetch(url)).text();
    expect(page).toContain('<title>Headroom');
  });

  it('replays the recorded live H200 session', async () => {
    const url = await startBundle(['--source', 'replay', '--replay', join(out, 'recordings/h200-live-100ms.jsonl')]);
    const h = await health(url);
    expect(h.source.kind).toBe('replay');
    expect(h.source.replay?.fileName).toBe('h200-live-100ms.jsonl');
  });
});
