import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { convertAppsLoop, convertGpuLoop, convertTorchLog, emptyStats, groupGpuTicks } from '../../server/recording/convertCapture.ts';
import { parseRecording, RecordingFormatError, serializeRecord } from '../../server/recording/format.ts';
import { readRecording } from '../../server/recording/reader.ts';
import { SESSION_CAPTURE_FIELDS } from '../../server/nvidia-smi/queryGpu.ts';
import { MiB } from '../../shared/units.ts';
import { BUNDLED_RECORDING, FIXTURES, SESSION_DIR } from '../support/paths.ts';

const gpuCsv = readFileSync(`${SESSION_DIR}smi_gpu_loop_lms250.csv`, 'utf8');
const appsText = readFileSync(`${SESSION_DIR}smi_apps_loop.txt`, 'utf8');
const torchMain = readFileSync(`${SESSION_DIR}torch_mem_main.jsonl`, 'utf8');

describe('convertGpuLoop() on the recorded H200 session', () => {
  const records = convertGpuLoop(gpuCsv, SESSION_CAPTURE_FIELDS, 0, emptyStats());
  const lines = gpuCsv.split('\n').filter((l) => l.trim() !== '');

  it('makes one tick per row of a 1-GPU loop, with every value equal to its source line', () => {
    expect(records).toHaveLength(lines.length);
    records.forEach((r, i) => {
      const cells = (lines[i] ?? '').split(', ');
      expect(r.kind).toBe('gpu');
      if (r.kind !== 'gpu') return;
      const g = r.gpus[0];
      expect(g?.uuid).toBe(cells[2]);
      expect(g?.name).toBe(cells[3]);
      expect(g?.totalBytes).toBe(Number(cells[4]) * MiB);
      expect(g?.reservedBytes).toBe(Number(cells[5]) * MiB);
      expect(g?.usedBytes).toBe(Number(cells[6]) * MiB);
      expect(g?.freeBytes).toBe(Number(cells[7]) * MiB);
      expect(g?.powerDrawW).toBe(Number(cells[11]));
    });
  });

  it('reads the zone-less nvidia-smi timestamp in the capture host zone (UTC)', () => {
    // First row: 2026/11/21 04:21:53.189 on a UTC host.
    expect(records[0]?.t).toBe(Date.UTC(2026, 10, 21, 4, 21, 53, 189));
  });

  it('keeps total = used + reserved + free within nvidia-smi MiB rounding', () => {
    for (const r of records) {
      if (r.kind !== 'gpu') continue;
      const g = r.gpus[0];
      if (!g || g.totalBytes === null || g.usedBytes === null || g.reservedBytes === null || g.freeBytes === null) continue;
      expect(Math.abs(g.totalBytes - (g.usedBytes + g.reservedBytes + g.freeBytes))).toBeLessThanOrEqual(2 * MiB);
    }
  });
});

describe('groupGpuTicks()', () => {
  it('groups a 2-GPU -lms loop into ticks of one row per GPU, although each row has its own timestamp', () => {
    const csv = readFileSync(`${FIXTURES}nvidia-smi/h200-2gpu/gpu_loop_2gpu.csv`, 'utf8');
    const fields = ['timestamp', 'index', 'uuid', 'name', 'pci.bus_id', 'memory.total', 'memory.reserved', 'memory.used', 'memory.free', 'utilization.gpu', 'utilization.memory', 'temperature.gpu', 'power.draw'] as const;
    const records = convertGpuLoop(csv, fields, 0, emptyStats());
    expect(records.length).toBeGreaterThan(10);
    for (const r of records) {
      if (r.kind !== 'gpu') continue;
      expect(r.gpus.map((g) => g.index)).toEqual([0, 1]);
      expect(r.gpus[0]?.uuid).not.toBe(r.gpus[1]?.uuid);
    }
    expect(groupGpuTicks([])).toEqual([]);
  });
});

describe('convertAppsLoop() and convertTorchLog()', () => {
  it('turns each "# <epoch s>" block into one process list at that time', () => {
    const records = convertAppsLoop(appsText, emptyStats());
    expect(records[0]).toEqual({ kind: 'processes', t: 1795234913172, processes: [] });
    const withBoth = records.filter((r) => r.kind === 'processes' && r.processes.length === 2);
    expect(withBoth.length).toBe(68); // the fixture README: the two processes overlap in 68 blocks
    const first = records.find((r) => r.kind === 'processes' && r.processes.length > 0);
    expect(first?.kind === 'processes' && first.processes[0]?.pid).toBe(423);
  });

  it('keeps every memory number of the PyTorch log and its events', () => {
    const stats = emptyStats();
    const records = convertTorchLog(torchMain, stats);
    const lines = torchMain.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(stats.torchSamples).toBe(lines.length);
    expect(stats.torchEvents).toBe(lines.filter((l) => l.event).length);
    const oom = records.find((r) => r.kind === 'torchEvent' && r.event.kind === 'oom');
    expect(oom?.kind === 'torchEvent' && oom.event.message).toContain('Tried to allocate 42.00 GiB');
    const s = records.find((r) => r.kind === 'torch');
    expect(s?.kind === 'torch' && s.sample).toMatchObject({ pid: 423, device: 0, allocatedBytes: 0, reservedBytes: 2097152, timestampMs: 1795234928348 });
  });
});

describe('the bundled recording', () => {
  it('reads back, sorted, with the GPU ticks, processes and PyTorch records of the session', async () => {
    const rec = await readRecording(BUNDLED_RECORDING);
    expect(rec.header).toMatchObject({ format: 'headroom-recording', version: 1, origin: 'converted', gpuNames: ['NVIDIA H200'] });
    const kinds = new Map<string, number>();
    for (const r of rec.records) kinds.set(r.kind, (kinds.get(r.kind) ?? 0) + 1);
    expect(kinds.get('gpu')).toBe(498);
    expect(kinds.get('processes')).toBeGreaterThan(200);
    expect(kinds.get('torch')).toBeGreaterThan(1400);
    for (let i = 1; i < rec.records.length; i++) expect(rec.records[i]!.t).toBeGreaterThanOrEqual(rec.records[i - 1]!.t);
    const peak = Math.max(...rec.records.flatMap((r) => (r.kind === 'gpu' ? r.gpus.map((g) => g.usedBytes ?? 0) : [])));
    expect(peak).toBe(139_889 * MiB); // formats.md: memory.used peaked at 139,889 MiB around the OOM
  });
});

describe('parseRecording() errors', () => {
  const header = serializeRecord({ kind: 'header', format: 'headroom-recording', version: 1, createdAtMs: 1, description: null, origin: 'live', hostname: null, gpuNames: [] });
  const gpu = readFileSync(BUNDLED_RECORDING, 'utf8').split('\n').find((l) => l.startsWith('{"kind":"gpu"')) ?? '';

  it('rejects an empty file, a missing header and bad JSON with the line number', () => {
    expect(() => parseRecording('', 'x.jsonl')).toThrow(/x\.jsonl is empty/);
    expect(() => parseRecording(`${gpu}\n`, 'x.jsonl')).toThrow(/x\.jsonl:1: bad header/);
    expect(() => parseRecording(`${header}{oops\n${gpu}\n`, 'x.jsonl')).toThrow(RecordingFormatError);
    expect(() => parseRecording(`${header}{oops\n${gpu}\n`, 'x.jsonl')).toThrow(/x\.jsonl:2: not valid JSON/);
  });

  it('rejects a record that breaks the schema, naming the field', () => {
    const bad = gpu.replace('"usedBytes":0', '"usedBytes":-5');
    expect(() => parseRecording(`${header}${bad}\n`, 'x.jsonl')).toThrow(/x\.jsonl:2: bad gpu record.*usedBytes/);
  });

  it('skips a partial last line (recorder killed mid-write) and unknown kinds from newer versions', () => {
    const r = parseRecording(`${header}${gpu}\n{"kind":"futureThing","t":5}\n${gpu.slice(0, 40)}`, 'x.jsonl');
    expect(r.records).toHaveLength(1);
    expect(r.skippedPartialLastLine).toBe(true);
    expect(r.skippedUnknownKinds).toBe(1);
  });

  it('refuses a recording with no GPU samples', () => {
    expect(() => parseRecording(header, 'x.jsonl')).toThrow(/no GPU samples/);
  });

  it('says the path when the file is missing', async () => {
    await expect(readRecording('/nonexistent/rec.jsonl')).rejects.toThrow(/cannot read replay file \/nonexistent\/rec\.jsonl \(ENOENT\)/);
  });
});
