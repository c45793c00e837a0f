/**
 * Every nvidia-smi capture in test/fixtures (real H200 outputs and the public nvidia_gpu_exporter captures)
 * goes through Headroom's parsers: each `--query-gpu` and compute-apps row must parse into a valid record
 * that keeps nvidia-smi's numbers, each `-q -x` document must map into a valid Inventory, and no line of the
 * other outputs (tables, `-q` text, help) may pass for a GPU row.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseStringPromise } from 'xml2js';
import { describe, expect, it } from 'vitest';
import { GpuProcessSchema, GpuSampleSchema, InventorySchema } from '../../shared/data.ts';
import { MiB } from '../../shared/units.ts';
import { extractCaptureBlocks, type CaptureDefaults } from '../../server/nvidia-smi/captures.ts';
import { COMPUTE_APPS_FIELDS, parseComputeAppsRow } from '../../server/nvidia-smi/computeApps.ts';
import { inventoryFromSmiXml } from '../../server/nvidia-smi/inventory.ts';
import { parseQueryGpuRow, QUERY_GPU_FIELDS, SESSION_CAPTURE_FIELDS } from '../../server/nvidia-smi/queryGpu.ts';
import { FIXTURES } from '../support/paths.ts';

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}

const SMI_DIR = join(FIXTURES, 'nvidia-smi');
const SESSION_FILES = ['sessions/h200-serving/smi_gpu_loop_lms250.csv', 'sessions/h200-serving/smi_apps_loop.txt'].map((f) => join(FIXTURES, f));
const files = [...walk(SMI_DIR).filter((f) => !/LICENSE|README/.test(f)), ...SESSION_FILES].map((path) => ({
  name: relative(FIXTURES, path),
  path,
}));

/** Headerless loops: the commands that recorded them are in test/fixtures/README.md. */
const DEFAULTS: Record<string, CaptureDefaults> = {
  'nvidia-smi/h200-2gpu/gpu_loop_2gpu.csv': {
    kind: 'query-gpu',
    fields: ['timestamp', 'index', 'uuid', 'name', 'pci.bus_id', 'memory.total', 'memory.reserved', 'memory.used', 'memory.free', 'utilization.gpu', 'utilization.memory', 'temperature.gpu', 'power.draw'],
  },
  'sessions/h200-serving/smi_gpu_loop_lms250.csv': { kind: 'query-gpu', fields: SESSION_CAPTURE_FIELDS },
  'sessions/h200-serving/smi_apps_loop.txt': { kind: 'compute-apps', fields: COMPUTE_APPS_FIELDS },
};

const xmlFiles = files.filter((f) => f.name.endsWith('.xml'));
const textFiles = files.filter((f) => !f.name.endsWith('.xml'));

describe.each(xmlFiles)('-q -x capture $name', ({ path }) => {
  it('maps into a valid Inventory with every GPU of the document', async () => {
    const xml = readFileSync(path, 'utf8');
    // The options node-nvidia-smi passes to xml2js.
    const data: unknown = await parseStringPromise(xml, { explicitArray: false, trim: true });
    const inventory = InventorySchema.parse(inventoryFromSmiXml(data, 1));
    const attached = Number(/<attached_gpus>(\d+)<\/attached_gpus>/.exec(xml)?.[1]);
    expect(inventory.gpus).toHaveLength(attached);
    expect(inventory.driverVersion).toBe(/<driver_version>([^<]+)</.exec(xml)?.[1]);
    const uuids = [...xml.matchAll(/^\t\t<uuid>(GPU-[^<]+)<\/uuid>/gm)].map((m) => m[1]);
    expect(inventory.gpus.map((g) => g.uuid)).toEqual(uuids);
    for (const g of inventory.gpus) {
      expect(g.totalBytes).toBe(143771 * MiB);
      expect(g.persistenceMode).toBe(true);
      expect(g.migMode).toBe(false);
      expect(g.migDevices).toEqual([]);
      expect(g.powerLimitW).toBe(700);
      expect(g.busId).toMatch(/^0000/);
    }
  });
});

describe.each(textFiles)('capture $name', ({ name, path }) => {
  const text = readFileSync(path, 'utf8');
  const blocks = extractCaptureBlocks(text, DEFAULTS[name]);
  const gpuBlocks = blocks.filter((b) => b.kind === 'query-gpu');
  const appBlocks = blocks.filter((b) => b.kind === 'compute-apps');

  if (name.includes('external/')) {
    it('holds an idle and a load --query-gpu block and compute-apps blocks', () => {
      expect(gpuBlocks.map((b) => b.label.split(' ')[0])).toEqual(['idle', 'load']);
      expect(appBlocks.length).toBe(2);
    });
  }

  if (gpuBlocks.length > 0) {
    it('parses every --query-gpu row into a valid sample that keeps the numbers', () => {
      for (const block of gpuBlocks) {
        expect(block.fields, block.label).not.toBeNull();
        const fields = block.fields ?? [];
        expect(block.rows.length, block.label).toBeGreaterThan(0);
        for (const row of block.rows) {
          const r = parseQueryGpuRow(row, fields, { nowMs: 0, utcOffsetMinutes: 0 });
          if (!r.ok) throw new Error(`${block.label}: ${r.reason}: ${row.slice(0, 160)}`);
          const s = GpuSampleSchema.parse(r.sample);
          const cells = row.split(', ');
          expect(s.uuid).toBe(cells[fields.indexOf('uuid')]);
          expect(s.index).toBe(Number(cells[fields.indexOf('index')]));
          expect(s.health).toBe('ok');
          const used = fields.indexOf('memory.used');
          expect(s.usedBytes).toBe(Number.parseInt(cells[used] ?? '', 10) * MiB);
          if (s.totalBytes !== null && s.usedBytes !== null && s.freeBytes !== null && s.reservedBytes !== null) {
            // total = reserved + used + free, within nvidia-smi's MiB rounding
            expect(Math.abs(s.totalBytes - (s.reservedBytes + s.usedBytes + s.freeBytes))).toBeLessThanOrEqual(2 * MiB);
          }
          if (fields.includes('timestamp')) expect(s.timestampMs).toBeGreaterThan(Date.UTC(2026, 0, 1));
        }
      }
    });
  }

  if (appBlocks.length > 0) {
    it('parses every compute-apps row into a process', () => {
      for (const block of appBlocks) {
        const fields = block.fields ?? COMPUTE_APPS_FIELDS;
        for (const row of block.rows) {
          const p = parseComputeAppsRow(row, fields);
          if (!p) throw new Error(`${block.label}: unparsed row ${row}`);
          GpuProcessSchema.parse(p);
          expect(row).toContain(p.gpuUuid);
          expect(row.split(", ")).toContain(String(p.pid));
          if (p.name) expect(row).toContain(p.name);
          if (/\[N\/A\]\s*$/.test(row)) expect(p.usedBytes).toBeNull();
          else expect(p.usedBytes).toBeGreaterThan(0);
        }
      }
    });
  }

  if (blocks.length === 0) {
    it('has no line that passes for a GPU row or a compute app', () => {
      for (const line of text.split('\n')) {
        expect(parseQueryGpuRow(line, QUERY_GPU_FIELDS, { nowMs: 0 }).ok, line).toBe(false);
        expect(parseComputeAppsRow(line), line).toBeNull();
      }
    });
  }
});

describe('what the captures say about drivers', () => {
  it('the H200 driver (580) accepts every field Headroom queries', () => {
    const help = readFileSync(join(SMI_DIR, 'help_query_gpu.txt'), 'utf8');
    for (const f of QUERY_GPU_FIELDS) expect(help, f).toContain(`"${f}"`);
  });

  it('the MIG H100 reports whole-GPU memory and [N/A] utilization, and per-process memory under MIG', () => {
    const text = readFileSync(join(SMI_DIR, 'external/linux-x86_64__nvidia-h100-mig__590.48.01.txt'), 'utf8');
    const [, load] = extractCaptureBlocks(text).filter((b) => b.kind === 'query-gpu');
    const r = parseQueryGpuRow(load?.rows[0] ?? '', load?.fields ?? [], { nowMs: 0 });
    if (!r.ok) throw new Error(r.reason);
    expect([r.sample.totalBytes, r.sample.reservedBytes, r.sample.usedBytes, r.sample.freeBytes]).toEqual([81559, 479, 11125, 69956].map((n) => n * MiB));
    expect(r.sample.utilizationGpuPercent).toBeNull();
    const apps = extractCaptureBlocks(text).filter((b) => b.kind === 'compute-apps')[1];
    const procs = (apps?.rows ?? []).map((row) => parseComputeAppsRow(row, apps?.fields ?? []));
    expect(procs.map((p) => [p?.pid, p?.name, p?.usedBytes])).toEqual([
      [21180, '/root/tools/memhog', 2296 * MiB],
      [21181, '/root/tools/memhog', 1272 * MiB],
      [21198, './gpu_burn', 7484 * MiB],
    ]);
  });
});
