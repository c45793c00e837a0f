/** Helpers for the live-source tests: the real agent against the fake nvidia-smi in test/fake-nvidia-smi. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Agent } from '../../server/agent.ts';
import type { DataRecord } from '../../shared/data.ts';
import type { SourceState } from '../../shared/source.ts';
import { startTestAgent } from '../support/agent.ts';
import { ROOT } from '../support/paths.ts';

export const FAKE_SMI = join(ROOT, 'test/fake-nvidia-smi/nvidia-smi');
export const GPU0 = 'GPU-3b54600d-ebf7-4feb-27c3-203ad61f6e34';
export const GPU1 = 'GPU-8623a53b-6368-076c-7ffe-844bb35674a7';

export interface LiveRun {
  agent: Agent;
  states: SourceState[];
  records: DataRecord[];
  close(): Promise<void>;
}

/** Start the agent with `--source live --nvidia-smi <fake>` and the fake's FAKE_SMI_* settings in the environment. */
export async function startLive(fakeEnv: Record<string, string>, args: string[] = []): Promise<LiveRun> {
  const stateDir = mkdtempSync(join(tmpdir(), 'fake-smi-'));
  const env = { FAKE_SMI_STATE_DIR: stateDir, ...fakeEnv };
  for (const [k, v] of Object.entries(env)) process.env[k] = v;
  const clearEnv = (): void => {
    for (const k of Object.keys(env)) delete process.env[k];
  };
  let agent: Agent;
  try {
    agent = await startTestAgent(['--source', 'live', '--nvidia-smi', FAKE_SMI, '--interval-ms', '50', ...args]);
  } catch (e) {
    clearEnv();
    throw e;
  }
  const states: SourceState[] = [agent.hub.source];
  const records: DataRecord[] = [];
  agent.hub.subscribe({ state: (s) => states.push(s), record: (r) => records.push(r) });
  return {
    agent,
    states,
    records,
    async close() {
      await agent.close();
      clearEnv();
    },
  };
}

/** Poll until `probe` returns a value (not null/undefined/false); fail with `what` after `timeoutMs`. */
export async function waitFor<T>(what: string, probe: () => T | null | undefined | false, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== null && v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function gpuRecords(run: LiveRun): Extract<DataRecord, { kind: 'gpu' }>[] {
  return run.records.filter((r): r is Extract<DataRecord, { kind: 'gpu' }> => r.kind === 'gpu');
}
