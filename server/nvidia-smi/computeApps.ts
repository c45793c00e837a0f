/**
 * Pure parser for `nvidia-smi --query-compute-apps=pid,process_name,used_gpu_memory,gpu_uuid
 * --format=csv,noheader,nounits`. Process names are not quoted and may contain ", " (Windows paths,
 * old drivers): take pid from the left, memory and uuid from the right, and rejoin the middle as the name.
 */
import type { GpuProcess } from '../../shared/data.ts';
import { mibToBytes } from '../../shared/units.ts';
import { isPlaceholder, parseNumberCell, parseStringCell } from './values.ts';

export const COMPUTE_APPS_FIELDS = ['pid', 'process_name', 'used_gpu_memory', 'gpu_uuid'] as const;

/** One row, or null for a row that cannot be used (header, blank, `[Insufficient Permissions]` pid). */
export function parseComputeAppsRow(line: string): GpuProcess | null {
  const text = line.replace(/\r$/, '').trim();
  if (text === '' || text.startsWith('#')) return null;
  const cells = text.split(', ');
  if (cells.length < 4) return null;
  const pidCell = cells[0] ?? '';
  const uuidCell = cells[cells.length - 1] ?? '';
  const memCell = cells[cells.length - 2] ?? '';
  if (isPlaceholder(pidCell) || !/^\d+$/.test(pidCell.trim())) return null;
  const gpuUuid = parseStringCell(uuidCell);
  if (!gpuUuid) return null;
  const mib = parseNumberCell(memCell);
  return {
    pid: Number(pidCell),
    name: parseStringCell(cells.slice(1, -2).join(', ')),
    usedBytes: mib === null ? null : mibToBytes(mib),
    gpuUuid,
  };
}

/** All usable rows of one compute-apps call. */
export function parseComputeApps(text: string): GpuProcess[] {
  const out: GpuProcess[] = [];
  for (const line of text.split('\n')) {
    const p = parseComputeAppsRow(line);
    if (p) out.push(p);
  }
  return out;
}
