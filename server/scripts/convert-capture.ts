/**
 * Turn raw captures into a Headroom recording. Used once to make server/recordings/h200-serving.jsonl
 * from the recorded H200 session; kept for converting further captures.
 *
 *   tsx server/scripts/convert-capture.ts --gpu-loop smi_gpu_loop_lms250.csv --apps smi_apps_loop.txt \
 *     --torch-log torch_mem_main.jsonl --torch-log torch_mem_side.jsonl --utc-offset-min 0 \
 *     --description "..." --out server/recordings/h200-serving.jsonl
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { DataRecord } from '../../shared/data.ts';
import { convertAppsLoop, convertGpuLoop, convertTorchLog, emptyStats } from '../recording/convertCapture.ts';
import { RECORDING_FORMAT, RECORDING_VERSION, serializeRecord, type RecordingHeader } from '../recording/format.ts';
import { QUERY_GPU_FIELDS, SESSION_CAPTURE_FIELDS, type QueryGpuField } from '../nvidia-smi/queryGpu.ts';

const { values } = parseArgs({
  options: {
    'gpu-loop': { type: 'string' },
    fields: { type: 'string' },
    apps: { type: 'string' },
    'torch-log': { type: 'string', multiple: true },
    'utc-offset-min': { type: 'string' },
    description: { type: 'string' },
    hostname: { type: 'string' },
    out: { type: 'string' },
  },
  strict: true,
});
if (!values['gpu-loop'] || !values.out) {
  console.error('usage: convert-capture --gpu-loop <csv> [--fields f1,f2,...] [--apps <txt>] [--torch-log <jsonl>]... [--utc-offset-min N] --out <file>');
  process.exit(2);
}
const fields = values.fields
  ? (values.fields.split(',').map((f) => f.trim()) as QueryGpuField[])
  : SESSION_CAPTURE_FIELDS;
for (const f of fields) {
  if (!(QUERY_GPU_FIELDS as readonly string[]).includes(f)) {
    console.error(`unknown field ${f}; known: ${QUERY_GPU_FIELDS.join(',')}`);
    process.exit(2);
  }
}
const offset = values['utc-offset-min'] === undefined ? null : Number(values['utc-offset-min']);
const stats = emptyStats();
const records: DataRecord[] = [
  ...convertGpuLoop(readFileSync(values['gpu-loop'], 'utf8'), fields, offset, stats),
  ...(values.apps ? convertAppsLoop(readFileSync(values.apps, 'utf8'), stats) : []),
  ...(values['torch-log'] ?? []).flatMap((p) => convertTorchLog(readFileSync(p, 'utf8'), stats)),
];
records.sort((a, b) => a.t - b.t);
const firstGpu = records.find((r) => r.kind === 'gpu');
const header: RecordingHeader = {
  kind: 'header',
  format: RECORDING_FORMAT,
  version: RECORDING_VERSION,
  createdAtMs: records[0]?.t ?? Date.now(),
  description: values.description ?? null,
  origin: 'converted',
  hostname: values.hostname ?? null,
  gpuNames: firstGpu?.kind === 'gpu' ? firstGpu.gpus.map((g) => g.name ?? 'GPU') : [],
};
writeFileSync(values.out, [header, ...records].map(serializeRecord).join(''));
console.error(`wrote ${values.out}: ${records.length} records`, stats);
