/**
 * Pure parser for `nvidia-smi --query-gpu=<fields> --format=csv,noheader,nounits` rows (also `-lms` loops).
 * Columns are mapped by position from the requested field list, never by header text (the header prints
 * canonical names, not the aliases asked for). Placeholders become null; `[GPU is lost]` and friends raise
 * the row's health.
 */
import type { GpuSample } from '../../shared/data.ts';
import { mibToBytes } from '../../shared/units.ts';
import { parseNumberCell, parseSmiTimestamp, parseStringCell, placeholderHealth, worseHealth } from './values.ts';

/** Fields Headroom asks for, in order. `memory.reserved` is dropped on drivers that reject it. */
export const QUERY_GPU_FIELDS = [
  'timestamp',
  'index',
  'uuid',
  'name',
  'pci.bus_id',
  'memory.total',
  'memory.reserved',
  'memory.used',
  'memory.free',
  'utilization.gpu',
  'utilization.memory',
  'temperature.gpu',
  'power.draw',
  'power.limit',
  'pstate',
] as const;
export type QueryGpuField = (typeof QUERY_GPU_FIELDS)[number];

/** Aliases nvidia-smi accepts for the fields Headroom reads (`--help-query-gpu`). */
const FIELD_ALIASES: Readonly<Record<string, QueryGpuField>> = {
  gpu_uuid: 'uuid',
  gpu_name: 'name',
  gpu_bus_id: 'pci.bus_id',
};

/** The Headroom field a requested or header field stands for, or null for fields Headroom ignores. */
export function canonicalGpuField(field: string): QueryGpuField | null {
  const f = field.trim().replace(/\s*\[[^\]]*\]$/, ''); // header labels carry units: `memory.used [MiB]`
  if ((QUERY_GPU_FIELDS as readonly string[]).includes(f)) return f as QueryGpuField;
  return FIELD_ALIASES[f] ?? null;
}

/** True for the header line of `--format=csv` (with or without units): it names fields, it holds no values. */
export function isQueryGpuHeader(line: string): boolean {
  const cells = splitSmiCsv(line.replace(/\r$/, '').trim());
  return cells.length > 1 && cells.includes('index') && (cells.includes('uuid') || cells.includes('gpu_uuid'));
}

/** The field list of the recorded serving session (`smi_gpu_loop_lms250.csv`). */
export const SESSION_CAPTURE_FIELDS: readonly QueryGpuField[] = [
  'timestamp', 'index', 'uuid', 'name', 'memory.total', 'memory.reserved', 'memory.used', 'memory.free',
  'utilization.gpu', 'utilization.memory', 'temperature.gpu', 'power.draw',
];

type SampleKey = Exclude<keyof GpuSample, 'health'>;
const MEMORY_FIELDS: Partial<Record<QueryGpuField, SampleKey>> = {
  'memory.total': 'totalBytes',
  'memory.reserved': 'reservedBytes',
  'memory.used': 'usedBytes',
  'memory.free': 'freeBytes',
};
const NUMBER_FIELDS: Partial<Record<QueryGpuField, SampleKey>> = {
  'utilization.gpu': 'utilizationGpuPercent',
  'utilization.memory': 'utilizationMemoryPercent',
  'temperature.gpu': 'temperatureC',
  'power.draw': 'powerDrawW',
  'power.limit': 'powerLimitW',
};
const STRING_FIELDS: Partial<Record<QueryGpuField, SampleKey>> = {
  name: 'name',
  'pci.bus_id': 'busId',
  pstate: 'pstate',
};

export interface ParseQueryGpuOptions {
  /** Time for rows whose timestamp is missing or not asked for. */
  nowMs: number;
  /** null: nvidia-smi's zone-less timestamp is in this host's zone. */
  utcOffsetMinutes?: number | null;
  /**
   * The UUID last seen at a GPU index. A faulted GPU prints `[GPU is lost]` in its uuid column too; with this
   * the row still says which GPU is lost instead of being dropped.
   */
  uuidForIndex?: (index: number) => string | null;
}

export type ParseRowResult =
  | { ok: true; sample: GpuSample }
  | { ok: false; reason: 'not-csv' | 'wrong-column-count' | 'no-uuid' | 'no-index'; line: string };

/** Split on nvidia-smi's `", "` separator (no quoting exists in its CSV). */
export function splitSmiCsv(line: string): string[] {
  return line.split(', ');
}

/** Parse one CSV row. Non-CSV lines (warnings, shell traces, headers) come back as `ok: false`. */
export function parseQueryGpuRow(
  line: string,
  fields: readonly string[],
  options: ParseQueryGpuOptions,
): ParseRowResult {
  const text = line.replace(/\r$/, '');
  const cells = splitSmiCsv(text);
  if (cells.length < 2) return { ok: false, reason: 'not-csv', line: text };
  if (cells.length !== fields.length) return { ok: false, reason: 'wrong-column-count', line: text };

  const sample: GpuSample = {
    timestampMs: options.nowMs,
    index: -1,
    uuid: '',
    name: null,
    busId: null,
    totalBytes: null,
    reservedBytes: null,
    usedBytes: null,
    freeBytes: null,
    utilizationGpuPercent: null,
    utilizationMemoryPercent: null,
    temperatureC: null,
    powerDrawW: null,
    powerLimitW: null,
    pstate: null,
    health: 'ok',
  };
  const record = sample as unknown as Record<SampleKey, number | string | null>;

  fields.forEach((requested, i) => {
    const cell = cells[i] ?? '';
    const field = canonicalGpuField(requested);
    if (field === null) return;
    const health = placeholderHealth(cell);
    if (health) sample.health = worseHealth(sample.health, health);
    if (field === 'timestamp') {
      sample.timestampMs = parseSmiTimestamp(cell, options.utcOffsetMinutes ?? null) ?? options.nowMs;
    } else if (field === 'index') {
      sample.index = parseNumberCell(cell) ?? -1;
    } else if (field === 'uuid') {
      sample.uuid = parseStringCell(cell) ?? '';
    } else if (MEMORY_FIELDS[field]) {
      const n = parseNumberCell(cell);
      record[MEMORY_FIELDS[field]] = n === null ? null : mibToBytes(n);
    } else if (NUMBER_FIELDS[field]) {
      record[NUMBER_FIELDS[field]] = parseNumberCell(cell);
    } else if (STRING_FIELDS[field]) {
      record[STRING_FIELDS[field]] = parseStringCell(cell);
    }
  });

  if (sample.index < 0 || !Number.isInteger(sample.index)) return { ok: false, reason: 'no-index', line: text };
  if (sample.uuid === '' && sample.health !== 'ok') sample.uuid = options.uuidForIndex?.(sample.index) ?? '';
  if (sample.uuid === '') return { ok: false, reason: 'no-uuid', line: text };
  return { ok: true, sample };
}
