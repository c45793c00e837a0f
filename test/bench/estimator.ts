/**
 * `npm run bench:estimator`: the estimator against every real H200 prefill in the calibration fixture and the
 * held-out capture (error of peakAllocatedBytes vs torch.cuda.max_memory_allocated and of deviceUsedBytes vs
 * NVML used), then
 * the time per estimate, with a closed-form baseline (weights + KV + tokens·(2h+3I)·B) timed in the same run.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { clearReplayMemo } from '../../shared/estimator/forward.ts';
import { estimate, findGpu, findModel, type EstimateInput } from '../../shared/estimator/index.ts';
import { loadCalibration, loadHeldOut, loadMoe, loadStaticCache, loadTensorParallel, type CalibrationCase } from './estimatorFixture.ts';

const cases = loadCalibration();
const pct = (x: number): string => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(2)} %`;
const abs = (x: number): string => `${(x * 100).toFixed(2)} %`;
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

/** Print the error table of a set of runs and its summary. */
function table(title: string, runs: CalibrationCase[]): void {
  const peakErr: number[] = [];
  const usedErr: number[] = [];
  console.log(`## ${title}`);
  console.log('');
  console.log(`| run | peak measured | peak predicted | error | device used measured | predicted | error |`);
  console.log(`|---|---:|---:|---:|---:|---:|---:|`);
  for (const c of runs) {
    const e = estimate(c.input);
    const pe = (e.peakAllocatedBytes - c.run.prefill_peak) / c.run.prefill_peak;
    const ue = (e.deviceUsedBytes - c.run.nvml_after_prefill) / c.run.nvml_after_prefill;
    peakErr.push(Math.abs(pe));
    usedErr.push(Math.abs(ue));
    const gb = (b: number): string => (b / 1e9).toFixed(3);
    console.log(`| ${c.label} | ${gb(c.run.prefill_peak)} GB | ${gb(e.peakAllocatedBytes)} GB | ${pct(pe)} | ${gb(c.run.nvml_after_prefill)} GB | ${gb(e.deviceUsedBytes)} GB | ${pct(ue)} |`);
  }
  console.log('');
  console.log(`runs: ${runs.length}`);
  console.log(`peakAllocatedBytes: median |error| ${abs(median(peakErr))}, max ${abs(Math.max(...peakErr))} (target ≤ 1 %, ≤ 3 %)`);
  console.log(`deviceUsedBytes:    median |error| ${abs(median(usedErr))}, max ${abs(Math.max(...usedErr))} (target ≤ 3 %, ≤ 8 %)`);
  console.log('');
}

const heldOut = loadHeldOut();
const tensorParallel = loadTensorParallel();
const staticCache = loadStaticCache();
const moe = loadMoe();
table('H200 calibration runs (test/fixtures/groundtruth/h200_calibration.jsonl)', cases);
table(`Held-out H200 runs: ${[...new Set(heldOut.map((c) => c.run.model))].join(', ')} (never calibrated on)`, heldOut);
table('Tensor parallel, two H200s, every rank (transformers tp_plan="auto", h200_tp2.jsonl)', tensorParallel);
table('StaticCache (engine hf-static; max_cache_len = prompt + 16, or roomier), one H200 (h200_static.jsonl)', staticCache);
table('MoE and MLA: Mixtral-8x7B, Qwen3-30B-A3B, DeepSeek-V2-Lite widths with 4-8 layers, one H200 (h200_moe.jsonl)', moe);

{
  // Decode: the same runs continued for their 16 decode steps (DynamicCache torch.cat growth replayed; StaticCache written in place).
  const runs = [...cases, ...heldOut, ...tensorParallel, ...staticCache, ...moe];
  const used: number[] = [];
  const peak: number[] = [];
  const prefillOnly: number[] = [];
  for (const c of runs) {
    const e = estimate({ ...c.input, newTokens: c.run.decode_steps });
    used.push(Math.abs(e.deviceUsedAfterDecodeBytes - c.run.nvml_after_decode) / c.run.nvml_after_decode);
    peak.push(Math.abs(e.decodePeakAllocatedBytes - c.run.decode_peak) / c.run.decode_peak);
    prefillOnly.push(Math.abs(e.deviceUsedBytes - c.run.nvml_after_decode) / c.run.nvml_after_decode);
  }
  console.log(`## After ${runs[0]!.run.decode_steps} decode steps (all ${runs.length} runs)`);
  console.log('');
  console.log(`deviceUsedAfterDecodeBytes: median |error| ${abs(median(used))}, max ${abs(Math.max(...used))} (the after-prefill number would miss by up to ${abs(Math.max(...prefillOnly))})`);
  console.log(`decodePeakAllocatedBytes:   median |error| ${abs(median(peak))}, max ${abs(Math.max(...peak))}`);
  console.log('');
}

{
  // Training: plain-PyTorch steps on the H200 (test/fixtures/groundtruth/h200_training.jsonl).
  const peak: number[] = [];
  const used: number[] = [];
  for (const line of readFileSync(new URL('../fixtures/groundtruth/h200_training.jsonl', import.meta.url), 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const s = JSON.parse(line) as { kind: string; model: string; precision: string; optimizer: 'adamw' | 'sgd'; checkpointing: boolean; batch: number; seq: number; step_peak: number; nvml: number };
    if (s.kind !== 'train') continue;
    const e = estimate({
      model: findModel(s.model)!, dtype: 'bf16', batch: s.batch, promptTokens: s.seq, gpu: findGpu('h200')!,
      training: { optimizer: s.optimizer, mixedPrecision: s.precision === 'amp', zeroStage: 0, dataParallel: 1, checkpointing: s.checkpointing, offload: 'none' },
    });
    peak.push(Math.abs(e.peakAllocatedBytes - s.step_peak) / s.step_peak);
    used.push(Math.abs(e.deviceUsedBytes - s.nvml) / s.nvml);
  }
  console.log(`## Training steps (${peak.length}: AMP or bf16, AdamW or SGD, checkpointing or not)`);
  console.log('');
  console.log(`step peakAllocatedBytes: median |error| ${abs(median(peak))}, max ${abs(Math.max(...peak))}`);
  console.log(`deviceUsedBytes:         median |error| ${abs(median(used))}, max ${abs(Math.max(...used))} (allocator slack from one fitted constant)`);
  console.log('');
}

function baseline(i: EstimateInput): number {
  const m = i.model;
  const B = i.dtype === 'fp32' ? 4 : 2;
  const weights = (2 * m.vocab * m.hidden + m.layers * (4 * m.hidden * m.hidden + 3 * m.hidden * m.intermediate)) * B;
  const kv = 2 * m.layers * m.kvHeads * m.headDim * B * i.batch * i.promptTokens;
  return weights + kv + i.batch * i.promptTokens * (2 * m.hidden + 3 * m.intermediate) * B;
}

/** Wall-clock and CPU µs per call (CPU time excludes the time the OS gave other processes on a busy machine). */
function timePerCall(fn: (i: EstimateInput) => unknown, minMs = 400): { wallUs: number; cpuUs: number } {
  let n = 0;
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  while (performance.now() - t0 < minMs) {
    for (const c of cases) fn(c.input);
    n += cases.length;
  }
  const cpu = process.cpuUsage(c0);
  return { wallUs: ((performance.now() - t0) * 1000) / n, cpuUs: (cpu.user + cpu.system) / n };
}

const cold = (i: EstimateInput): unknown => {
  clearReplayMemo();
  return estimate(i);
};
timePerCall(estimate, 200); // warm-up (JIT)
timePerCall(cold, 200);
const warmT = timePerCall(estimate, 1000);
const coldT = timePerCall(cold, 1000);
const baseT = timePerCall(baseline, 1000);
const fmt = (t: { wallUs: number; cpuUs: number }): string => `${t.wallUs.toFixed(t.wallUs < 1 ? 3 : 1)} µs wall, ${t.cpuUs.toFixed(t.cpuUs < 1 ? 3 : 1)} µs CPU`;
console.log(`time per estimate (target ≤ 50 µs): ${fmt(coldT)} cold (every shape replayed); ${fmt(warmT)} with the replay memo warm`);
console.log(`closed-form baseline (weights + KV + tokens·(2h+3I)·B, same inputs): ${fmt(baseT)}; cold/baseline ${(coldT.cpuUs / baseT.cpuUs).toFixed(0)}× CPU`);
console.log(`load average now: ${loadavg().map((x) => x.toFixed(2)).join(' ')} on ${availableParallelism()} CPUs`);
