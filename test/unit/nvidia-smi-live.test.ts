/** Pure pieces of the live source, on real captured rows and real failure texts (formats.md §1.6). */
import { readFileSync } from 'node:fs';
import { parseStringPromise } from 'xml2js';
import { describe, expect, it } from 'vitest';
import type { GpuProcess, GpuSample } from '../../shared/data.ts';
import { MiB } from '../../shared/units.ts';
import { toHostSample } from '../../server/host/hostSample.ts';
import { classifySmiExit, rejectedField } from '../../server/nvidia-smi/failures.ts';
import { asList, inventoryFromSmiXml, InventoryFormatError, inventoryWarnings } from '../../server/nvidia-smi/inventory.ts';
import { parseQueryGpuRow } from '../../server/nvidia-smi/queryGpu.ts';
import { TickAssembler } from '../../server/nvidia-smi/tickAssembler.ts';
import { backoffMs, LineSplitter } from '../../server/sources/live/lineSplitter.ts';
import { PidNamespaceCheck } from '../../server/sources/live/pidNamespace.ts';
import { GpuRoster } from '../../server/sources/live/roster.ts';
import { FIXTURES } from '../support/paths.ts';

const LOOP_2GPU_FIELDS = ['timestamp', 'index', 'uuid', 'name', 'pci.bus_id', 'memory.total', 'memory.reserved', 'memory.used', 'memory.free', 'utilization.gpu', 'utilization.memory', 'temperature.gpu', 'power.draw'];
const loopRows = readFileSync(`${FIXTURES}nvidia-smi/h200-2gpu/gpu_loop_2gpu.csv`, 'utf8').split('\n').filter(Boolean);
const loopSamples = loopRows.map((l) => {
  const r = parseQueryGpuRow(l, LOOP_2GPU_FIELDS, { nowMs: 0, utcOffsetMinutes: 0 });
  if (!r.ok) throw new Error(r.reason);
  return r.sample;
});

describe('TickAssembler on the real 2-GPU -lms loop', () => {
  it('groups every row into ticks of GPU 0 and GPU 1, emitting a tick as soon as it is complete', () => {
    const a = new TickAssembler();
    const ticks: GpuSample[][] = [];
    loopSamples.forEach((s, i) => {
      const done = a.push(s);
      ticks.push(...done);
      // After the first tick the count is known: the tick closes on its last row, not on the next tick's first.
      if (i >= 3 && s.index === 1) expect(done).toHaveLength(1);
    });
    const last = a.flush();
    if (last) ticks.push(last);
    expect(ticks).toHaveLength(loopRows.length / 2);
    expect(ticks.every((t) => t.map((g) => g.index).join() === '0,1')).toBe(true);
  });

  it('closes a short tick when a GPU is missing (the next row does not rise in index)', () => {
    const a = new TickAssembler();
    const [g0, g1, h0, , k0, k1] = loopSamples as GpuSample[] as [GpuSample, GpuSample, GpuSample, GpuSample, GpuSample, GpuSample];
    a.push(g0);
    expect(a.push(g1)).toEqual([]);
    expect(a.push(h0)).toEqual([[g0, g1]]);
    expect(a.push(k0)).toEqual([[h0]]);
    // One short tick does not split the next ones: GPU 1 is back, and the tick holds both again.
    expect(a.push(k1)).toEqual([[k0, k1]]);
    expect(a.expected).toBe(2);
  });
});

describe('nvidia-smi failures', () => {
  it.each([
    [6, 'No devices were found', 'no-devices', /found no GPUs \(exit 6/],
    [9, "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running.", 'driver', /cannot talk to the NVIDIA driver \(exit 9\)/],
    [18, 'Failed to initialize NVML: Driver/library version mismatch', 'nvml-mismatch', /reboot/],
    [127, 'sh: 1: nvidia-smi: not found', 'not-found', /could not be run \(exit 127/],
    [4, 'Insufficient Permissions', 'no-permission', /no permission/],
    [2, 'Invalid combination of input arguments. Please run \'nvidia-smi -h\' for help.', 'bad-arguments', /rejected Headroom's arguments \(exit 2 \("Invalid combination/],
    [255, 'Unknown Error', 'crashed', /crashed \(exit 255/],
    [1, '', 'exited', /^nvidia-smi exited \(exit 1\); restarting\.$/],
  ] as const)('exit %i (%s) → %s', (code, output, kind, message) => {
    const f = classifySmiExit(code, null, output);
    expect(f.kind).toBe(kind);
    expect(f.message).toMatch(message);
  });

  it('a signal is a crash', () => {
    expect(classifySmiExit(null, 'SIGSEGV', '').message).toBe('nvidia-smi crashed (SIGSEGV); restarting.');
  });

  it('finds the field an older driver rejects', () => {
    const out = 'Field "memory.reserved" is not a valid field to query.\n\n';
    expect(rejectedField(out)).toBe('memory.reserved');
    expect(classifySmiExit(2, null, out)).toMatchObject({ kind: 'rejected-field', field: 'memory.reserved' });
    expect(rejectedField('No devices were found')).toBeNull();
  });
});

describe('placeholder rows', () => {
  it('keep the GPU they belong to when the uuid column is a placeholder too', () => {
    const row = '2026/11/21 04:24:44.660, 1, [GPU is lost], [GPU is lost], [GPU is lost], [GPU is lost], [GPU is lost], [GPU is lost], [GPU is lost], [GPU is lost], [GPU is lost], [GPU is lost], [GPU is lost]';
    const known = new Map([[1, 'GPU-8623a53b-6368-076c-7ffe-844bb35674a7']]);
    const r = parseQueryGpuRow(row, LOOP_2GPU_FIELDS, { nowMs: 0, uuidForIndex: (i) => known.get(i) ?? null });
    expect(r.ok && r.sample).toMatchObject({ index: 1, uuid: 'GPU-8623a53b-6368-076c-7ffe-844bb35674a7', health: 'lost', usedBytes: null, totalBytes: null });
    expect(parseQueryGpuRow(row, LOOP_2GPU_FIELDS, { nowMs: 0 })).toMatchObject({ ok: false, reason: 'no-uuid' });
  });
});

describe('GpuRoster', () => {
  const [a, b] = loopSamples as [GpuSample, GpuSample];
  it('retires a GPU missing from 3 ticks in a row and brings it back when it reappears', () => {
    const r = new GpuRoster();
    r.update([a, b], 0);
    expect(r.update([a], 1).retired).toEqual([]);
    expect(r.update([a], 2).retired).toEqual([]);
    const third = r.update([a], 3);
    expect(third.retired).toEqual([b.uuid]);
    expect(third.warnings.get(`gpu-gone:${b.uuid}`)?.message).toMatch(/^GPU 1 \(NVIDIA H200, GPU-8623a53b.*\) stopped reporting/);
    expect(r.names()).toEqual(['NVIDIA H200']);
    expect(r.update([a, b], 4).warnings.get(`gpu-gone:${b.uuid}`)).toBeNull();
    expect(r.names()).toHaveLength(2);
  });

  it('warns while a GPU is unhealthy and clears the warning when it is ok again', () => {
    const r = new GpuRoster();
    r.update([a, b], 0);
    const lost = r.update([a, { ...b, health: 'reset-required', name: null }], 1);
    expect(lost.warnings.get(`gpu-health:${b.uuid}`)?.message).toMatch(/GPU 1 \(NVIDIA H200, .*\) reports \[GPU requires reset\]/);
    expect(r.update([a, b], 2).warnings.get(`gpu-health:${b.uuid}`)).toBeNull();
  });
});

describe('PidNamespaceCheck', () => {
  const p = (pid: number, name: string | null): GpuProcess => ({ pid, name, usedBytes: 612 * MiB, gpuUuid: 'GPU-x' });
  it('warns only when a PID mismatches in two polls in a row', () => {
    const check = new PidNamespaceCheck(() => null); // no such process here
    expect(check.check([p(423, 'python3')])).toBeNull();
    expect(check.check([p(423, 'python3')])?.message).toMatch(/\(423\).*--pid=host/);
    expect(check.check([])).toBeNull();
  });
  it('matches the command name, allowing paths and truncation, and flags another program', () => {
    const comm = new Map([[1, 'python3'], [2, 'python3.12'], [3, 'bash']]);
    const check = new PidNamespaceCheck((pid) => comm.get(pid) ?? null);
    const list = [p(1, '/opt/torch/.venv/bin/python3'), p(2, 'python'), p(3, 'python3')];
    check.check(list);
    expect(check.check(list)?.message).toMatch(/\(3\)/);
  });
  it('says nothing where /proc cannot tell', () => {
    const check = new PidNamespaceCheck(() => undefined);
    check.check([p(5, 'x')]);
    expect(check.check([p(5, 'x')])).toBeNull();
  });
});

describe('inventory from -q -x (node-nvidia-smi shapes)', () => {
  const xml = (gpus: string, extra = ''): string =>
    `<?xml version="1.0" ?><nvidia_smi_log><driver_version>535.104.05</driver_version><cuda_version>12.2</cuda_version>${extra}${gpus}</nvidia_smi_log>`;
  const parse = async (text: string): Promise<unknown> => parseStringPromise(text, { explicitArray: false, trim: true });

  it('maps MIG devices (one and several) with per-instance memory, and warns about MIG and persistence mode', async () => {
    // Values from the H100 MIG capture's -q text (external/linux-x86_64__nvidia-h100-mig__590.48.01.txt).
    const mig = (i: number, gi: number, total: number, used: number): string =>
      `<mig_device><index>${i}</index><gpu_instance_id>${gi}</gpu_instance_id><compute_instance_id>0</compute_instance_id><fb_memory_usage><total>${total} MiB</total><reserved>0 MiB</reserved><used>${used} MiB</used><free>${total - used} MiB</free></fb_memory_usage></mig_device>`;
    const gpu = (devices: string): string =>
      `<gpu id="00000000:00:09.0"><product_name>NVIDIA H100 80GB HBM3</product_name><persistence_mode>Disabled</persistence_mode><mig_mode><current_mig>Enabled</current_mig></mig_mode><mig_devices>${devices}</mig_devices><uuid>GPU-00000000-0000-0000-0000-000000000000</uuid><fb_memory_usage><total>81559 MiB</total><used>N/A</used></fb_memory_usage><power_readings><power_limit>700.00 W</power_limit></power_readings></gpu>`;
    const one = inventoryFromSmiXml(await parse(xml(gpu(mig(0, 2, 40448, 11091)))), 5);
    expect(one.gpus[0]?.migDevices).toEqual([
      { index: 0, uuid: null, gpuInstanceId: 2, computeInstanceId: 0, totalBytes: 40448 * MiB, reservedBytes: 0, usedBytes: 11091 * MiB, freeBytes: 29357 * MiB },
    ]);
    expect(one.gpus[0]).toMatchObject({ migMode: true, persistenceMode: false, powerLimitW: 700, totalBytes: 81559 * MiB, busId: '00000000:00:09.0' });
    const three = inventoryFromSmiXml(await parse(xml(gpu(mig(0, 2, 40448, 11091) + mig(1, 3, 20096, 17) + mig(2, 9, 9984, 13)))), 5);
    expect(three.gpus[0]?.migDevices.map((d) => d.gpuInstanceId)).toEqual([2, 3, 9]);
    expect(inventoryWarnings(three).map((w) => w.code)).toEqual(['persistence-off', 'mig']);
    expect(inventoryWarnings(three)[0]?.message).toMatch(/sudo nvidia-smi -pm 1/);
  });

  it('normalises one vs many and "None"', () => {
    expect(asList(undefined)).toEqual([]);
    expect(asList('None')).toEqual([]);
    expect(asList({ a: '1' })).toEqual([{ a: '1' }]);
    expect(asList([{ a: '1' }, { a: '2' }])).toHaveLength(2);
  });

  it('rejects what is not -q -x, and a GPU without uuid', async () => {
    expect(() => inventoryFromSmiXml(null, 0)).toThrow(InventoryFormatError);
    await expect(parse('No devices were found')).rejects.toThrow(/Non-whitespace before first tag/);
    expect(() => inventoryFromSmiXml({ nvidia_smi_log: { gpu: { product_name: 'X' } } }, 0)).toThrow(/GPU 0 has no <uuid>/);
  });
});

describe('host sample', () => {
  it('counts total − available as used, and keeps null for what is missing', () => {
    // systeminformation mem() and currentLoad() as read on this machine type.
    const mem = { total: 25276502016, free: 24771403776, used: 505098240, available: 24824508416 };
    expect(toHostSample(mem, { currentLoad: 0.99 }, 7)).toEqual({
      timestampMs: 7,
      memTotalBytes: 25276502016,
      memUsedBytes: 25276502016 - 24824508416,
      memAvailableBytes: 24824508416,
      cpuLoadPercent: 0.99,
    });
    expect(toHostSample({}, null, 7)).toEqual({ timestampMs: 7, memTotalBytes: null, memUsedBytes: null, memAvailableBytes: null, cpuLoadPercent: null });
  });
});

describe('LineSplitter and backoff', () => {
  it('splits chunks into lines, keeps a partial rest, and drops overlong lines', () => {
    const s = new LineSplitter(16);
    expect(s.push('a, 1\nb, ')).toEqual(['a, 1']);
    expect(s.push('2\r\n')).toEqual(['b, 2']);
    expect(s.push('x'.repeat(20))).toEqual([]);
    expect(s.push('yyy\nok\npart')).toEqual(['ok']);
    expect(s.overlongLines).toBe(1);
    expect(s.takeRest()).toBe('part');
  });
  it('backs off 0.5 s doubling to 30 s', () => {
    expect([0, 1, 2, 5, 6, 20].map((n) => backoffMs(n))).toEqual([500, 1000, 2000, 16000, 30000, 30000]);
  });
});
