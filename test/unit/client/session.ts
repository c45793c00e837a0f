/** The recorded real H200 session, folded up to a moment: what a page would hold at that recorded time. */
import { readRecording } from '../../../server/recording/reader.ts';
import type { DataRecord, GpuProcess, GpuSample, TorchEvent, TorchSample } from '../../../shared/data.ts';
import { resolve } from 'node:path';

/** The bundled recording, from the repository root (vitest's root; works in the DOM environment too). */
const BUNDLED_RECORDING = resolve('server/recordings/h200-serving.jsonl');

export interface SessionState {
  gpu: GpuSample;
  processes: GpuProcess[];
  torchLatest: Map<number, TorchSample>;
  events: TorchEvent[];
}

let cached: DataRecord[] | null = null;

export async function sessionRecords(): Promise<DataRecord[]> {
  cached ??= (await readRecording(BUNDLED_RECORDING)).records;
  return cached;
}

export function stateAt(records: readonly DataRecord[], atMs: number): SessionState {
  let gpu: GpuSample | null = null;
  let processes: GpuProcess[] = [];
  const torchLatest = new Map<number, TorchSample>();
  const events: TorchEvent[] = [];
  for (const r of records) {
    if (r.t > atMs) break;
    if (r.kind === 'gpu') gpu = r.gpus[0] ?? gpu;
    else if (r.kind === 'processes') processes = r.processes;
    else if (r.kind === 'torch') torchLatest.set(r.sample.pid, r.sample);
    else if (r.kind === 'torchEvent') events.push(r.event);
  }
  if (!gpu) throw new Error(`no GPU sample before ${atMs}`);
  return { gpu, processes, torchLatest, events };
}

export function eventsOf(records: readonly DataRecord[]): TorchEvent[] {
  return records.flatMap((r) => (r.kind === 'torchEvent' ? [r.event] : []));
}
