/**
 * Pure reader of nvidia-smi capture files: plain CSV outputs (with or without a header), shell traces that
 * name each command (`+ nvidia-smi --query-gpu=… --format=csv`), and the sectioned captures of
 * nvidia_gpu_exporter (`# idle :: query-gpu …` banners with `# $ nvidia-smi …` command lines between `####`
 * rules). Finds the `--query-gpu` and `--query-compute-apps` CSV blocks and the field list of each (from the
 * command, else from the header line, else the caller's default), so the row parsers can run over any capture.
 */
import { isComputeAppsHeader } from './computeApps.ts';
import { isQueryGpuHeader, splitSmiCsv } from './queryGpu.ts';

export type CaptureBlockKind = 'query-gpu' | 'compute-apps';

export interface CaptureBlock {
  kind: CaptureBlockKind;
  /** The banner (`idle :: query-gpu (csv, …)`) or command this block came from, for test names. */
  label: string;
  /** Field names in column order, or null when neither a command nor a header names them. */
  fields: string[] | null;
  /** Data lines (header removed). */
  rows: string[];
}

export interface CaptureDefaults {
  /** Kind and fields of a file that holds only rows (a headerless `-lms` loop). */
  kind?: CaptureBlockKind;
  fields?: readonly string[];
}

function commandOf(line: string): string | null {
  const m = /^(?:\+ |# \$ )(.*\bnvidia-smi\b.*)$/.exec(line);
  return m?.[1] ?? null;
}

function blockFromCommand(command: string, label: string): CaptureBlock | null {
  const gpu = /--query-gpu=(\S+)/.exec(command);
  if (gpu?.[1]) return { kind: 'query-gpu', label, fields: gpu[1].split(','), rows: [] };
  const apps = /--query-compute-apps=(\S+)/.exec(command);
  if (apps?.[1]) return { kind: 'compute-apps', label, fields: apps[1].split(','), rows: [] };
  return null;
}

export function extractCaptureBlocks(text: string, defaults: CaptureDefaults = {}): CaptureBlock[] {
  const blocks: CaptureBlock[] = [];
  let current: CaptureBlock | null = null;
  let banner = '';
  let sawCommand = false;
  const lines = text.split('\n').map((l) => l.replace(/\r$/, ''));
  for (const line of lines) {
    if (/^#{8,}\s*$/.test(line)) continue;
    const bannerMatch = /^# (\S.* :: .*)$/.exec(line);
    if (bannerMatch?.[1]) {
      banner = bannerMatch[1];
      current = null; // a new section: rows until its command line belong to nothing
      continue;
    }
    const command = commandOf(line);
    if (command !== null) {
      sawCommand = true;
      current = blockFromCommand(command, banner || command.slice(0, 80));
      if (current) blocks.push(current);
      continue;
    }
    if (line.trim() === '' || line.startsWith('#')) continue;
    if (!current && !sawCommand && defaults.kind === undefined) {
      // A bare CSV file: its header says which kind it is.
      if (isQueryGpuHeader(line)) current = { kind: 'query-gpu', label: 'csv', fields: null, rows: [] };
      else if (isComputeAppsHeader(line)) current = { kind: 'compute-apps', label: 'csv', fields: null, rows: [] };
      if (current) blocks.push(current);
    }
    if (!current && !sawCommand && defaults.kind !== undefined) {
      current = { kind: defaults.kind, label: 'rows', fields: defaults.fields ? [...defaults.fields] : null, rows: [] };
      blocks.push(current);
    }
    if (!current) continue;
    const isHeader = current.kind === 'query-gpu' ? isQueryGpuHeader(line) : isComputeAppsHeader(line);
    if (isHeader) {
      current.fields ??= splitSmiCsv(line.trim()).map((c) => c.replace(/\s*\[[^\]]*\]$/, ''));
      continue;
    }
    current.rows.push(line);
  }
  return blocks;
}
