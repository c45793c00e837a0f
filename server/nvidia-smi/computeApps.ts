/**
 * Pure parser for `nvidia-smi --query-compute-apps=<fields> --format=csv,noheader,nounits` (default fields
 * pid,process_name,used_gpu_memory,gpu_uuid). Process names are not quoted and may contain ", " (Windows
 * paths, old drivers): the columns left of `process_name` are taken from the left, the ones right of it from
 * the right, and the middle is rejoined as the name. Values with units (`1472 MiB`, `--format=csv`) work too.
 */
import type { GpuProcess } from '../../shared/data.ts';
import { mibToBytes } from '../../shared/units.ts';
import { isPlaceholder, parseNumberCell, parseStringCell } from './values.ts';

export const COMPUTE_APPS_FIELDS = ['pid', 'process_name', 'used_gpu_memory', 'gpu_uuid'] as const;

type AppsField = 'pid' | 'process_name' | 'used_gpu_memory' | 'gpu_uuid';
const ALIASES: Readonly<Record<string, AppsField>> = {
  pid: 'pid',
  process_name: 'process_name',
  name: 'process_name',
  used_gpu_memory: 'used_gpu_memory',
  used_memory: 'used_gpu_memory',
  gpu_uuid: 'gpu_uuid',
};

/** The field a requested or header field stands for (header labels carry units: `used_gpu_memory [MiB]`). */
export function canonicalAppsField(field: string): AppsField | null {
  return ALIASES[field.trim().replace(/\s*\[[^\]]*\]$/, '')] ?? null;
}

/** True for the header line of `--format=csv`. */
export function isComputeAppsHeader(line: string): boolean {
  const cells = line.replace(/\r$/, '').trim().split(', ');
  return cells.includes('pid') && cells.some((c) => canonicalAppsField(c) === 'gpu_uuid');
}

/** One row, or null for a row that cannot be used (header, blank, `[Insufficient Permissions]` pid). */
export function parseComputeAppsRow(line: string, fields: readonly string[] = COMPUTE_APPS_FIELDS): GpuProcess | null {
  const text = line.replace(/\r$/, '').trim();
  if (text === '' || text.startsWith('#') || isComputeAppsHeader(text)) return null;
  const cells = text.split(', ');
  if (cells.length < fields.length) return null;
  const nameAt = fields.findIndex((f) => canonicalAppsField(f) === 'process_name');
  const extra = cells.length - fields.length; // ", " inside the process name
  if (extra > 0 && nameAt < 0) return null;
  const cellOf = (field: AppsField): string | null => {
    const i = fields.findIndex((f) => canonicalAppsField(f) === field);
    if (i < 0) return null;
    if (field === 'process_name') return cells.slice(i, i + 1 + extra).join(', ');
    return cells[nameAt >= 0 && i > nameAt ? i + extra : i] ?? null;
  };
  const pidCell = cellOf('pid') ?? '';
  if (isPlaceholder(pidCell) || !/^\d+$/.test(pidCell.trim())) return null;
  const gpuUuid = parseStringCell(cellOf('gpu_uuid') ?? '');
  if (!gpuUuid) return null;
  const memCell = cellOf('used_gpu_memory');
  const mib = memCell === null ? null : parseNumberCell(memCell);
  const nameCell = cellOf('process_name');
  return {
    pid: Number(pidCell),
    name: nameCell === null ? null : parseStringCell(nameCell),
    usedBytes: mib === null ? null : mibToBytes(mib),
    gpuUuid,
  };
}

/** All usable rows of one compute-apps call. */
export function parseComputeApps(text: string, fields: readonly string[] = COMPUTE_APPS_FIELDS): GpuProcess[] {
  const out: GpuProcess[] = [];
  for (const line of text.split('\n')) {
    const p = parseComputeAppsRow(line, fields);
    if (p) out.push(p);
  }
  return out;
}
