/**
 * Pure conversion of raw captures (an nvidia-smi `--query-gpu -lms` loop, a compute-apps loop with
 * `# <epoch seconds>` block headers, and PyTorch sidecar logs) into Headroom recording records.
 */
import type { DataRecord, GpuProcess, GpuSample } from '../../shared/data.ts';
import { secondsToMs } from '../../shared/units.ts';
import { parseComputeAppsRow } from '../nvidia-smi/computeApps.ts';
import { parseQueryGpuRow, type QueryGpuField } from '../nvidia-smi/queryGpu.ts';
import { parseSidecarLine } from '../torch/sidecar.ts';

export interface ConvertStats {
  gpuRows: number;
  gpuTicks: number;
  skippedGpuLines: number;
  processBlocks: number;
  torchSamples: number;
  torchEvents: number;
  skippedTorchLines: number;
}

/**
 * Group `-lms` rows into ticks: one row per GPU per tick, each with its own timestamp, so a tick ends
 * when a GPU index repeats (formats.md §1.4: group by arrival order and index, not equal timestamps).
 */
export function groupGpuTicks(samples: GpuSample[]): GpuSample[][] {
  const ticks: GpuSample[][] = [];
  let current: GpuSample[] = [];
  for (const s of samples) {
    if (current.some((c) => c.index === s.index)) {
      ticks.push(current);
      current = [];
    }
    current.push(s);
  }
  if (current.length > 0) ticks.push(current);
  return ticks;
}

export function convertGpuLoop(
  csv: string,
  fields: readonly QueryGpuField[],
  utcOffsetMinutes: number | null,
  stats: ConvertStats,
): DataRecord[] {
  const samples: GpuSample[] = [];
  for (const line of csv.split('\n')) {
    if (line.trim() === '') continue;
    const r = parseQueryGpuRow(line, fields, { nowMs: 0, utcOffsetMinutes });
    if (r.ok) samples.push(r.sample);
    else stats.skippedGpuLines++;
  }
  stats.gpuRows += samples.length;
  const ticks = groupGpuTicks(samples);
  stats.gpuTicks += ticks.length;
  return ticks.map((gpus) => ({ kind: 'gpu', t: gpus[0]?.timestampMs ?? 0, gpus }));
}

/** Blocks of compute-apps output, each introduced by `# <epoch seconds>`. */
export function convertAppsLoop(text: string, stats: ConvertStats): DataRecord[] {
  const out: DataRecord[] = [];
  let t: number | null = null;
  let processes: GpuProcess[] = [];
  const flush = (): void => {
    if (t !== null) out.push({ kind: 'processes', t, processes });
  };
  for (const line of text.split('\n')) {
    const header = /^#\s*(\d+(?:\.\d+)?)\s*$/.exec(line.trim());
    if (header?.[1]) {
      flush();
      t = secondsToMs(Number(header[1]));
      processes = [];
      continue;
    }
    const p = parseComputeAppsRow(line);
    if (p) processes.push(p);
  }
  flush();
  stats.processBlocks += out.length;
  return out;
}

export function convertTorchLog(text: string, stats: ConvertStats): DataRecord[] {
  const out: DataRecord[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const r = parseSidecarLine(line);
    if (!r.ok) {
      stats.skippedTorchLines++;
      continue;
    }
    const { sample, event } = r.value;
    if (sample) {
      out.push({ kind: 'torch', t: sample.timestampMs, sample });
      stats.torchSamples++;
    }
    if (event) {
      out.push({ kind: 'torchEvent', t: event.timestampMs, event });
      stats.torchEvents++;
    }
  }
  return out;
}

export function emptyStats(): ConvertStats {
  return { gpuRows: 0, gpuTicks: 0, skippedGpuLines: 0, processBlocks: 0, torchSamples: 0, torchEvents: 0, skippedTorchLines: 0 };
}
