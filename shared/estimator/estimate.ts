/**
 * estimate(): per-GPU memory for one model + runtime. Weights and KV are exact from the config (or the
 * checkpoint headers); activations and allocator slack come from replaying the forward against a model of
 * PyTorch's caching allocator; the context is the measured non-PyTorch footprint.
 * Components add up: weights + KV + activations + logits + gradients + optimizer + overhead = deviceUsed.
 */
import { llamaCppRuntime, NCCL_BYTES, vllmRuntime } from './engines.ts';
import { hfRuntime, type RuntimeMemory } from './hf.ts';
import { kvCacheBytes } from './kv.ts';
import { resolveInput } from './resolve.ts';
import { trainingMemory } from './training.ts';
import type { Estimate, EstimateInput } from './types.ts';
import { weightsBreakdown } from './weights.ts';

const GiB = 1024 ** 3;
/**
 * Reserved above a training step's peak, as a fraction of what comes and goes within the step (peak less weights
 * and optimizer states): the median of 45 plain-PyTorch training steps on an H200 (quartiles 0.08–0.25; the
 * allocator's state after a step is not replayed, so this is the one fitted training constant).
 */
const TRAINING_SLACK = 0.125;
/** One formatter for all calls: Number#toLocaleString builds a new one per call (microseconds each). */
const EN_US = new Intl.NumberFormat('en-US');
const gib = (b: number): string => (b >= GiB / 10 ? `${(b / GiB).toFixed(2)} GiB` : `${(b / 1024 ** 2).toFixed(2)} MiB`);

export function estimate(input: EstimateInput): Estimate {
  const r = resolveInput(input);
  const m = r.model;
  // transformers' tp_plan keeps the input embedding whole on every rank; vLLM and llama.cpp split it.
  const w = weightsBreakdown(m, r.scheme, r.dtype, r.tp, r.pp, r.groupSize, !r.engine.kind.startsWith('hf'));
  const exact = r.weightsBytesExact;
  const weightsPerGpu = exact === null ? w.perGpuBytes : Math.round((exact * w.perGpuBytes) / w.totalBytes);
  const ctx = r.prompt + r.newTokens;
  const kind = r.engine.kind;
  const block = kind === 'vllm' ? (r.engine.kind === 'vllm' ? (r.engine.blockSize ?? 16) : 1) : 1;
  const kvTokens = kind === 'hf-static' && r.engine.kind === 'hf-static' ? Math.max(r.engine.maxCacheTokens ?? ctx, r.prompt) : ctx;
  const kv = kind === 'llamacpp' && r.engine.kind === 'llamacpp'
    ? kvCacheBytes(m, r.kvDtype, 1, r.engine.nCtx ?? r.batch * ctx, r.tp, r.pp, kind)
    : kvCacheBytes(m, r.kvDtype, r.batch, kvTokens, r.tp, r.pp, kind, block);
  const ncclBytes = r.tp * r.pp > 1 ? NCCL_BYTES : 0;
  const ex: Record<string, string> = {};

  let rt: RuntimeMemory;
  let weightsBytes = weightsPerGpu;
  let kvBytes = kv.bytes;
  let gradientsBytes = 0;
  let optimizerBytes = 0;
  if (r.training) {
    const t = trainingMemory(r, w);
    weightsBytes = t.weightsBytes;
    gradientsBytes = t.gradientsBytes;
    optimizerBytes = t.optimizerBytes;
    kvBytes = 0;
    const peak = t.peakBytes;
    // What a step allocates and frees stays cached, partly split by the next step's allocations.
    const slack = Math.round(TRAINING_SLACK * t.transientBytes);
    rt = {
      kvPrefillBytes: 0, activationBytes: t.activationBytes, logitsBytes: t.logitsBytes, workspaceBytes: 0,
      prefillPeakBytes: peak, decodePeakBytes: 0, reservedBytes: peak + slack, reservedAfterDecodeBytes: peak + slack, nonTorchBytes: r.gpu.contextBytes,
      notes: { ...t.notes, allocatorSlackBytes: `${TRAINING_SLACK} × what a step allocates and frees stays cached between steps (median of H200 training steps; quartiles 0.08–0.25)` },
    };
    ex.kvCacheBytes = 'training: no KV cache';
  } else if (kind === 'vllm') {
    const v = vllmRuntime(r, weightsPerGpu, kv.bytes);
    rt = v;
    kvBytes = v.poolBytes;
  } else if (kind === 'llamacpp') {
    rt = llamaCppRuntime(r, weightsPerGpu, kv.bytes);
  } else {
    rt = hfRuntime(r, w, weightsPerGpu);
  }

  const peakAllocated = Math.max(rt.prefillPeakBytes, rt.decodePeakBytes);
  const reserved = rt.reservedBytes;
  const reservedAfterDecode = Math.max(rt.reservedAfterDecodeBytes, rt.decodePeakBytes);
  const deviceUsed = reserved + rt.nonTorchBytes + ncclBytes;
  const deviceUsedAfterDecode = reservedAfterDecode + rt.nonTorchBytes + ncclBytes;
  // The most the process holds at any moment: after the prefill, after decoding, or at the peak itself (reserved
  // never drops below allocated; near capacity the allocator may release cached segments after the peak).
  const deviceUsedMax = Math.max(deviceUsed, deviceUsedAfterDecode, peakAllocated + rt.nonTorchBytes + ncclBytes);
  const cudaContextBytes = rt.nonTorchBytes;
  const slack = Math.max(0, reserved - peakAllocated);
  const overhead = Math.max(0, deviceUsed - weightsBytes - kvBytes - rt.activationBytes - rt.logitsBytes - gradientsBytes - optimizerBytes);
  const usable = r.gpu.memoryBytes;
  const fits = deviceUsedMax <= usable * (1 - r.headroomFraction) && (kind !== 'vllm' || kv.bytes <= kvBytes) && rt.overCapacity !== true;

  ex.weightsBytes ??= exact !== null
    ? `exact checkpoint bytes from the file headers (${exact} B)${r.tp * r.pp > 1 ? `, this GPU's share under TP ${r.tp} × PP ${r.pp}` : ''}`
    : `${EN_US.format(w.params)} parameters stored as ${r.scheme}${r.tp * r.pp > 1 ? `, split over TP ${r.tp} × PP ${r.pp} (${w.layersPerGpu} layers here${r.tp > 1 && kind.startsWith('hf') ? '; transformers keeps the input embedding whole on each rank' : ''})` : ''} = ${gib(weightsBytes)}`;
  ex.kvCacheBytes ??= rt.notes.kvCacheBytes ?? `${kv.bytesPerToken} B per token (2 × kv heads × head_dim × ${r.kvDtype} × layers) × batch ${r.batch} × ${kvTokens} tokens = ${gib(kvBytes)}`;
  ex.activationBytes = rt.notes.activationBytes ?? `peak transient of the forward: ${gib(rt.activationBytes)}`;
  ex.logitsBytes = rt.notes.logitsBytes ?? `${r.logits === 'all' ? 'all positions' : 'last position'}: rows × vocab × ${r.logitsFp32 ? 4 : r.bytes} B = ${gib(rt.logitsBytes)}`;
  ex.gradientsBytes = rt.notes.gradientsBytes ?? 'inference: no gradients';
  ex.optimizerBytes = rt.notes.optimizerBytes ?? 'inference: no optimizer states';
  ex.cudaContextBytes = rt.notes.cudaContextBytes ?? `CUDA context, kernels and library handles outside PyTorch on ${r.gpu.name} (measured on the H200: 0.68–0.79 GB)`;
  ex.ncclBytes = ncclBytes > 0 ? `NCCL communicator buffers per rank (measured 838 MiB on H200 NVLink) for TP ${r.tp} × PP ${r.pp}` : 'single GPU: no NCCL';
  ex.workspaceBytes = `cuBLAS workspace (${r.gpu.arch >= 9 ? '32 MiB on Hopper+' : '8 MiB'}) and RoPE buffers`;
  ex.allocatorSlackBytes = rt.notes.allocatorSlackBytes ?? 'reserved by the allocator above the peak';
  ex.overheadBytes = 'context + NCCL + workspace + allocator slack: everything on the device besides the components above';
  ex.peakAllocatedBytes = r.training
    ? `torch.cuda.max_memory_allocated() over a step: the highest of the forward's end, the loss backward, a recomputed layer, the end of backward and optimizer.step()`
    : `torch.cuda.max_memory_allocated(): weights + KV + activation peak + logits${r.newTokens > 0 ? ' (max of prefill and decode)' : ''}`;
  const after = r.training ? 'a training step' : 'the prefill';
  ex.reservedBytes = `torch.cuda.memory_reserved() after ${after}: segments the caching allocator holds`;
  ex.deviceUsedBytes = `nvidia-smi per-process memory after ${after}: reserved + CUDA context (+ NCCL)`;
  ex.reservedAfterDecodeBytes = r.training ? 'training: no decode steps' : r.newTokens > 0 && kind.startsWith('hf')
    ? `memory_reserved() after ${r.newTokens} decode steps, replayed: each step's torch.cat grows every layer's K and V while the old copies are alive, so freed blocks are a little too small for the next step`
    : kind.startsWith('hf') ? 'no decode steps (--new-tokens 0): as after the prefill' : `${kind} preallocates: no growth while decoding`;
  ex.deviceUsedAfterDecodeBytes = 'nvidia-smi per-process memory after the decode steps: reserved after decode + CUDA context (+ NCCL)';
  ex.params = `${EN_US.format(w.params)} parameters (all ranks; MoE experts all resident)`;
  ex.prefillPeakAllocatedBytes = 'max_memory_allocated over the prefill forward';
  ex.decodePeakAllocatedBytes = r.newTokens > 0
    ? `decode, replayed step by step: weights + KV for up to ${ctx} tokens + one layer's old K/V copy during DynamicCache's torch.cat + one token's temporaries`
    : 'no decode steps (--new-tokens 0)';
  ex.gpuMemoryBytes = `${r.gpu.name}: memory PyTorch sees as total (driver-reserved excluded)`;
  ex.headroomBytes = 'GPU memory − the most the process holds: after the prefill, after decoding, or at the peak (allocated + context)';
  ex.contextTokens = `tokens the KV cache holds per sequence: prompt ${r.prompt} + new ${r.newTokens}`;
  ex.kvBytesPerToken = `2 (K and V) × ${m.mla && kind === 'vllm' ? 'MLA latent' : 'KV heads per rank × head_dim'} × ${r.kvDtype} bytes × layers on this GPU`;
  ex.tp = `tensor parallel degree: heads, MLP and vocabulary split ${r.tp} ways (KV heads replicated below ${r.tp})`;
  ex.pp = `pipeline parallel degree: ${w.layersPerGpu} of ${m.layers} layers on this GPU`;
  ex.engine = `engine profile: ${kind}`;
  ex.gpu = `GPU catalog entry ${r.gpu.id}`;
  ex.fits = rt.overCapacity === true
    ? `does not fit: PyTorch would run out of memory on ${r.gpu.name} even after releasing its cached segments`
    : `${fits ? 'fits' : 'does not fit'}: ${gib(deviceUsedMax)} used of ${gib(usable)} on ${r.gpu.name} with ${(r.headroomFraction * 100).toFixed(0)} % kept free`;

  return {
    params: w.params, weightsBytes, kvCacheBytes: kvBytes, activationBytes: rt.activationBytes, logitsBytes: rt.logitsBytes,
    overheadBytes: overhead, gradientsBytes, optimizerBytes, cudaContextBytes, ncclBytes, workspaceBytes: rt.workspaceBytes,
    allocatorSlackBytes: slack, peakAllocatedBytes: peakAllocated, prefillPeakAllocatedBytes: rt.prefillPeakBytes,
    decodePeakAllocatedBytes: rt.decodePeakBytes, reservedBytes: reserved, deviceUsedBytes: deviceUsed,
    reservedAfterDecodeBytes: reservedAfterDecode, deviceUsedAfterDecodeBytes: deviceUsedAfterDecode, gpuMemoryBytes: usable,
    headroomBytes: usable - deviceUsedMax, fits, contextTokens: kvTokens, kvBytesPerToken: kv.bytesPerToken, tp: r.tp, pp: r.pp,
    engine: kind, gpu: r.gpu.id, explanations: ex,
  };
}
