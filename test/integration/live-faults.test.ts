/**
 * The real agent (`--source live`) against the fake nvidia-smi, which replays real H200 captures and injects
 * one fault at a time. Each test asserts what the agent shows (SourceState in the hub and GET /api/health,
 * the data it records) and that it recovers when the fault goes away.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { HealthResponse } from '../../shared/contract.ts';
import type { Inventory } from '../../shared/data.ts';
import { MiB } from '../../shared/units.ts';
import type { LiveSource } from '../../server/sources/live/liveSource.ts';
import { connectClient } from '../support/agent.ts';
import { FAKE_SMI as FAKE_SMI_PATH, GPU0, GPU1, gpuRecords, startLive, waitFor, type LiveRun } from './live-support.ts';

let run: LiveRun | null = null;
afterEach(async () => {
  await run?.close();
  run = null;
});

async function health(r: LiveRun): Promise<HealthResponse> {
  return (await (await fetch(`${r.agent.url}api/health`)).json()) as HealthResponse;
}

const runningAgain = (r: LiveRun, afterIndex: number) => () => r.states.slice(afterIndex + 1).find((s) => s.status === 'running');

describe('live source against the fake nvidia-smi', () => {
  it('streams both H200s, their processes, host memory and the inventory', async () => {
    run = await startLive({});
    const r = run;
    const first = await waitFor('two GPU records', () => gpuRecords(r)[1]);
    expect(first.gpus.map((g) => [g.index, g.uuid, g.name])).toEqual([
      [0, GPU0, 'NVIDIA H200'],
      [1, GPU1, 'NVIDIA H200'],
    ]);
    // The first tick of gpu_loop_2gpu.csv: 143771 MiB total, 616 reserved, 0 used, 143156 free.
    const g = gpuRecords(r)[0]!.gpus[0]!;
    expect([g.totalBytes, g.reservedBytes, g.usedBytes, g.freeBytes]).toEqual([143771 * MiB, 616 * MiB, 0, 143156 * MiB]);
    expect(Math.abs(g.timestampMs - Date.now())).toBeLessThan(60_000);

    const procs = await waitFor('a process list', () => r.records.find((x) => x.kind === 'processes'));
    expect(procs.kind === 'processes' && procs.processes.map((p) => [p.pid, p.usedBytes, p.gpuUuid])).toEqual([
      [601, 1472 * MiB, GPU0],
      [602, 1472 * MiB, GPU1],
    ]);
    const host = await waitFor('a host sample', () => r.records.find((x) => x.kind === 'host'));
    expect(host.kind === 'host' && host.host.memTotalBytes).toBeGreaterThan(0);
    const inv = await waitFor('the inventory', () => r.records.find((x) => x.kind === 'inventory'));
    expect(inv.kind === 'inventory' && inv.inventory.gpus.map((x) => x.uuid)).toEqual([GPU0, GPU1]);

    const state = await waitFor('running', () => r.agent.hub.source.status === 'running' && r.agent.hub.source);
    expect(state.label).toBe('Live: 2 × NVIDIA H200 via nvidia-smi every 50 ms');
    const h = await health(r);
    expect(h.ok).toBe(true);
    expect(h.gpus).toBe(2);

    // PIDs 601 and 602 exist on the capture's host, not here: the agent says it runs in another PID namespace.
    const warning = await waitFor('the PID namespace warning', () => r.agent.hub.source.warnings?.find((w) => w.code === 'pid-namespace'));
    expect(warning.message).toMatch(/PIDs that are not this host's processes \(601, 602\).*--pid=host/);

    // inventory:refresh over the socket answers a fresh -q -x.
    const socket = connectClient(r.agent);
    try {
      const ack = await socket.timeout(10_000).emitWithAck('inventory:refresh');
      expect(ack.ok).toBe(true);
      const fresh = (ack as { ok: true; data: Inventory }).data;
      expect(fresh.driverVersion).toBe('580.159.04');
      expect(fresh.gpus.map((x) => x.persistenceMode)).toEqual([true, true]);
    } finally {
      socket.close();
    }
  });

  it('does not warn about PID namespaces when the reported PID is this process', async () => {
    run = await startLive({ FAKE_SMI_APPS_SELF: '1' });
    const r = run;
    await waitFor('three process lists', () => r.records.filter((x) => x.kind === 'processes').length >= 3);
    const last = r.records.filter((x) => x.kind === 'processes').at(-1);
    expect(last?.kind === 'processes' && last.processes.every((p) => p.pid === process.pid)).toBe(true);
    expect(r.agent.hub.source.warnings?.some((w) => w.code === 'pid-namespace')).toBe(false);
  });

  it('kills a hung nvidia-smi after 3 silent intervals, shows it stale, restarts it and recovers', async () => {
    run = await startLive({ FAKE_SMI_FAULT: 'hang', FAKE_SMI_FAULT_RUNS: '1' });
    const r = run;
    const staleAt = await waitFor('stale', () => {
      const i = r.states.findIndex((s) => s.status === 'stale');
      return i >= 0 ? i : null;
    });
    expect(r.states[staleAt]?.message).toMatch(/^No GPU sample for \d+\.\d s: nvidia-smi printed nothing \(nvidia-smi hangs\)/);
    const before = gpuRecords(r).length;
    await waitFor('running again', runningAgain(r, staleAt));
    await waitFor('new samples', () => gpuRecords(r).length > before + 2);
    expect((r.agent.source as LiveSource).restarts).toBeGreaterThanOrEqual(1);
  });

  it('drops the partial row of an nvidia-smi that crashes mid-line, and restarts it', async () => {
    run = await startLive({ FAKE_SMI_FAULT: 'crash', FAKE_SMI_FAULT_RUNS: '1' });
    const r = run;
    const staleAt = await waitFor('stale', () => {
      const i = r.states.findIndex((s) => s.status === 'stale');
      return i >= 0 ? i : null;
    });
    expect(r.states[staleAt]?.message).toMatch(/nvidia-smi crashed \(SIGKILL\).*Retrying in 0\.5 s\./);
    await waitFor('running again', runningAgain(r, staleAt));
    // Every sample before and after is whole: two GPUs with their UUIDs and numbers.
    for (const rec of gpuRecords(r)) {
      expect(rec.gpus.map((x) => x.uuid)).toEqual([GPU0, GPU1]);
      expect(rec.gpus.every((x) => x.totalBytes === 143771 * MiB)).toBe(true);
    }
  });

  it('treats lines it cannot read as no sample: stale with the line shown, then restart', async () => {
    run = await startLive({ FAKE_SMI_FAULT: 'garbage', FAKE_SMI_FAULT_RUNS: '1' });
    const r = run;
    const staleAt = await waitFor('stale', () => {
      const i = r.states.findIndex((s) => s.status === 'stale');
      return i >= 0 ? i : null;
    });
    expect(r.states[staleAt]?.message).toMatch(/only lines Headroom cannot read \(last: "#@!\?, garbage, 42"\)/);
    await waitFor('running again', runningAgain(r, staleAt));
  });

  describe.each([
    ['[GPU is lost]', 'lost', /reports \[GPU is lost\]: it has fallen off the bus/],
    ['[GPU requires reset]', 'reset-required', /reports \[GPU requires reset\]/],
    ['[Unknown Error]', 'unknown-error', /reports \[Unknown Error\]/],
    ['[N/A]', 'ok', null],
    ['[Not Supported]', 'ok', null],
    ['[Insufficient Permissions]', 'ok', null],
    ['[Requested functionality has been deprecated]', 'ok', null],
  ] as const)('placeholder %s', (placeholder, health, warning) => {
    it(`becomes null values${health === 'ok' ? '' : `, health ${health} and a warning`} for that GPU only`, async () => {
      run = await startLive({ FAKE_SMI_FAULT: 'placeholder', FAKE_SMI_PLACEHOLDER: placeholder, FAKE_SMI_FAULT_AFTER: '2' });
      const r = run;
      const rec = await waitFor('a tick with the placeholder', () => gpuRecords(r).find((x) => x.gpus[1]?.usedBytes === null));
      const [g0, g1] = rec.gpus;
      expect(g1).toMatchObject({ index: 1, uuid: GPU1, usedBytes: null, freeBytes: null, totalBytes: null, temperatureC: null, health });
      expect(g0).toMatchObject({ uuid: GPU0, health: 'ok', totalBytes: 143771 * MiB });
      expect(r.agent.hub.source.status).toBe('running');
      if (warning) {
        const w = await waitFor('the health warning', () => r.agent.hub.source.warnings?.find((x) => x.code === `gpu-health:${GPU1}`));
        expect(w.message).toMatch(/^GPU 1 \(NVIDIA H200, GPU-8623a53b/);
        expect(w.message).toMatch(warning);
      } else {
        expect(r.agent.hub.source.warnings?.some((x) => x.code.startsWith('gpu-health'))).toBe(false);
      }
    });
  });

  it('retires a GPU that falls off the bus and says so', async () => {
    run = await startLive({ FAKE_SMI_FAULT: 'falls-off' });
    const r = run;
    const gone = await waitFor('the gpu-gone warning', () => r.agent.hub.source.warnings?.find((w) => w.code === `gpu-gone:${GPU1}`));
    expect(gone.message).toMatch(/^GPU 1 \(NVIDIA H200, GPU-8623a53b-6368-076c-7ffe-844bb35674a7\) stopped reporting at .*Xid 79/);
    const notice = r.agent.hub.source.warnings?.find((w) => w.code === 'smi-notice');
    expect(notice?.message).toBe('nvidia-smi says: Unable to determine the device handle for GPU1: 00000000:00:07.0: Unknown Error');
    expect(r.agent.hub.latestGpus.map((g) => g.uuid)).toEqual([GPU0]);
    expect(r.agent.hub.gpuHistory(GPU1)).toEqual([]);
    await waitFor('the one-GPU label', () => r.agent.hub.source.label === 'Live: NVIDIA H200 via nvidia-smi every 50 ms');
    expect(r.agent.hub.source.status).toBe('running');
  });

  it.each([
    ['no devices (exit 6)', 'no-devices', /^nvidia-smi found no GPUs \(exit 6 \("No devices were found"\)\)\. Check `nvidia-smi -L`; in a container, start it with --gpus all\. Retrying in/],
    ['driver not loaded (exit 9)', 'driver', /^nvidia-smi cannot talk to the NVIDIA driver \(exit 9\): the driver is not loaded/],
    ['command not found (exit 127)', 'not-found', /^nvidia-smi could not be run \(exit 127 \(".*command not found"\)\): check the path given to --nvidia-smi/],
  ])('shows %s as an error in the state and /api/health, then recovers', async (_name, fault, message) => {
    run = await startLive({ FAKE_SMI_FAULT: fault, FAKE_SMI_FAULT_RUNS: '2' });
    const r = run;
    const error = await waitFor('error state', () => r.agent.hub.source.status === 'error' && r.agent.hub.source);
    expect(error.message).toMatch(message);
    const h = await health(r);
    expect(h.ok).toBe(false);
    expect(h.source.status).toBe('error');
    expect(h.source.message).toMatch(message);
    // The first -q -x failed the same way: the inventory warning says so.
    const invWarning = await waitFor('inventory warning', () => r.agent.hub.source.warnings?.find((w) => w.code === 'inventory'));
    expect(invWarning.message).toMatch(/^GPU inventory unavailable: nvidia-smi -q -x failed/);
    const errorAt = r.states.findIndex((s) => s.status === 'error');
    await waitFor('running again', runningAgain(r, errorAt), 20_000);
    expect((await health(r)).ok).toBe(true);
    // Once the driver answers, a refresh reads the inventory and clears the warning.
    const inventory = await r.agent.source.refreshInventory();
    expect(inventory?.gpus).toHaveLength(2);
    expect(r.agent.hub.source.warnings?.some((w) => w.code === 'inventory')).toBe(false);
  });

  it('drops a field the driver rejects (memory.reserved) and queries without it', async () => {
    run = await startLive({ FAKE_SMI_REJECT_FIELDS: 'memory.reserved' });
    const r = run;
    const rec = await waitFor('a sample', () => gpuRecords(r)[0]);
    expect(rec.gpus[0]).toMatchObject({ reservedBytes: null, usedBytes: 0, totalBytes: 143771 * MiB, freeBytes: 143156 * MiB });
    expect((r.agent.source as LiveSource).fields).not.toContain('memory.reserved');
    const w = r.agent.hub.source.warnings?.find((x) => x.code === 'field-dropped:memory.reserved');
    expect(w?.message).toBe('This driver does not know the field memory.reserved; Headroom queries without it (its values show as N/A).');
    expect(r.agent.hub.source.status).toBe('running');
  });

  it('--source auto picks live when nvidia-smi is on PATH', async () => {
    const savedPath = process.env.PATH;
    process.env.PATH = `${FAKE_SMI_PATH.replace(/\/nvidia-smi$/, '')}:${savedPath ?? ''}`;
    try {
      const { startTestAgent } = await import('../support/agent.ts');
      const agent = await startTestAgent(['--source', 'auto']);
      try {
        expect(agent.source.kind).toBe('live');
        await waitFor('a GPU sample', () => agent.hub.latestGpus.length === 2);
      } finally {
        await agent.close();
      }
    } finally {
      process.env.PATH = savedPath;
    }
  });
});
