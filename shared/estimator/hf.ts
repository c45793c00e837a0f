/**
 * Hugging Face transformers inference (dynamic or static cache): the prefill is replayed against the
 * caching-allocator model (forward.ts), and so are the decode steps: each adds one token, and DynamicCache's
 * torch.cat allocates every layer's grown K and V while the old copies are still alive; a StaticCache is written in
 * place, but its decode steps attend over the whole buffer behind a mask (so GQA repeats K and V over it).
 */
import { roundRequest } from './allocator.ts';
import { residentLayout } from './weightsLayout.ts';
import { KV_BYTES } from './dtypes.ts';
import { replayPrefill, type ForwardShape } from './forward.ts';
import { NCCL_BYTES } from './engines.ts';
import { cublasWorkspaceBytes } from './gpus.ts';
import type { Resolved } from './resolve.ts';
import { kvHeadsPerRank, type WeightsBreakdown } from './weights.ts';

export interface RuntimeMemory {
  kvPrefillBytes: number;
  activationBytes: number;
  logitsBytes: number;
  workspaceBytes: number;
  prefillPeakBytes: number;
  decodePeakBytes: number;
  reservedBytes: number;
  /** Reserved after the decode steps (reservedBytes when none are replayed or the engine preallocates). */
  reservedAfterDecodeBytes: number;
  /** The replay ran out of device memory even after releasing cached segments (PyTorch would raise OOM). */
  overCapacity?: boolean;
  nonTorchBytes: number;
  notes: Record<string, string>;
}

/** SDPA backend torch picks: flash for 16-bit and head_dim ≤ 256; mem-efficient without GQA; else math. */
export function sdpaBackend(r: Resolved): ForwardShape['attention'] {
  if (r.attention === 'eager') return 'eager';
  const d = r.model.mla ? r.model.mla.qkNopeHeadDim + r.model.mla.qkRopeHeadDim : r.model.headDim;
  if (r.bytes === 2 && d <= 256 && !r.model.mla) return 'flash';
  if (r.model.mla || r.model.kvHeads === r.model.heads) return 'efficient';
  return 'math';
}

/** How transformers 5 routes tokens in this family's MoE block (see layers.ts). */
function moeRouter(family: string): NonNullable<ForwardShape['moe']>['router'] {
  if (family.startsWith('deepseek')) return 'fp32-linear';
  return family.startsWith('qwen') ? 'softmax-cast' : 'softmax';
}

export function forwardShape(r: Resolved, layers: number, staticTokens: number | null, decodeSteps = 0, capacityBytes = Infinity): ForwardShape {
  const m = r.model;
  const moe = m.moe
    ? {
      experts: m.moe.experts, topK: m.moe.topK, intermediate: m.moe.intermediate / r.tp, sharedWidth: (m.moe.sharedExperts * m.moe.sharedIntermediate) / r.tp,
      denseLayers: m.moe.firstDenseLayers, router: moeRouter(m.family), sharedGate: m.family === 'qwen2_moe',
    }
    : null;
  const mla = m.mla
    ? {
      kvLoraRank: m.mla.kvLoraRank, qLoraRank: m.mla.qLoraRank, qkHeadDim: m.mla.qkNopeHeadDim + m.mla.qkRopeHeadDim, ropeDim: m.mla.qkRopeHeadDim,
      vHeadDim: m.mla.vHeadDim, complexRope: m.family === 'deepseek_v2',
    }
    : null;
  return {
    dtype: r.dtype, batch: r.batch, seq: r.prompt, bytes: r.bytes, hidden: m.hidden, heads: m.heads / r.tp, kvHeads: kvHeadsPerRank(m.kvHeads, r.tp),
    headDim: m.headDim, intermediate: m.intermediate / r.tp, vocab: Math.ceil(m.vocab / r.tp), fullVocab: m.vocab, layers,
    attention: sdpaBackend(r), arch: m.family === 'phi3' ? 'phi3' : m.family === 'gemma2' ? 'gemma2' : 'llama', qkNorm: m.qkNorm, decodeSteps, capacityBytes,
    slidingWindow: m.slidingWindow, slidingAlternate: m.slidingPattern === 'alternate', logitsAll: r.logits === 'all', logitsFp32: r.logitsFp32, kvBytes: KV_BYTES[r.kvDtype],
    staticCacheTokens: staticTokens, moe, mla, weightTails: [], weightTailsKey: '',
  };
}

export function hfRuntime(r: Resolved, w: WeightsBreakdown, weightsPerGpu: number): RuntimeMemory {
  const layers = w.layersPerGpu;
  const ctx = r.prompt + r.newTokens;
  const staticTokens = r.engine.kind === 'hf-static' ? Math.max(r.engine.maxCacheTokens ?? ctx, r.prompt) : null;
  const resident = residentLayout(w.layerGroups, w.bodyTensorBytes);
  const workspace = cublasWorkspaceBytes(r.gpu);
  // What the forward's segments may take before cudaMalloc fails: the GPU less the context, NCCL, weights, workspace.
  const capacity = r.gpu.memoryBytes - r.gpu.contextBytes - (r.tp * r.pp > 1 ? NCCL_BYTES : 0) - resident.reservedBytes - workspace;
  const sim = replayPrefill({ ...forwardShape(r, layers, staticTokens, r.newTokens, capacity), weightTails: resident.freeBlocks, weightTailsKey: resident.key });
  // RoPE inv_freq and original_inv_freq buffers (fp32, head_dim / 2 each).
  const buffers = 2 * roundRequest(((r.model.mla ? r.model.mla.qkRopeHeadDim : r.model.headDim) / 2) * 4);
  const base = weightsPerGpu + workspace + buffers;
  const rows = r.logits === 'all' ? r.batch * r.prompt : r.batch;
  // Under TP lm_head's output is gathered: every rank holds the logits over the whole vocabulary.
  const logitsBytes = rows * r.model.vocab * (r.logitsFp32 ? 4 : r.bytes);
  const kvPrefill = sim.kvBytes;
  const prefillPeak = base + sim.peakBytes;
  const activation = Math.max(0, sim.peakBytes - kvPrefill - logitsBytes);
  // Decode: replayed step by step after the prefill (DynamicCache's torch.cat grows each layer's K and V).
  const decodePeak = r.newTokens > 0 ? base + sim.decodePeakBytes : 0;
  const reserved = resident.reservedBytes + workspace + sim.reservedBytes;
  const reservedAfterDecode = resident.reservedBytes + workspace + sim.decodeReservedBytes;
  return {
    kvPrefillBytes: kvPrefill, activationBytes: activation, logitsBytes, workspaceBytes: workspace + buffers,
    prefillPeakBytes: prefillPeak, decodePeakBytes: decodePeak, reservedBytes: reserved, reservedAfterDecodeBytes: reservedAfterDecode, overCapacity: sim.overCapacity, nonTorchBytes: r.gpu.contextBytes,
    notes: {
      activationBytes: `prefill transient at the peak (${sdpaBackend(r)} attention): ${sim.peakPhase}; replayed tensor by tensor from the HF forward (${layers} layers × ${r.batch}·${r.prompt} tokens)`,
      allocatorSlackBytes: `segments PyTorch's caching allocator keeps after the prefill (best-fit, 2 MiB rounding, 20 MiB segments for 1–10 MiB, KV blocks splitting cached transients) minus the peak`,
      ...(staticTokens !== null ? {
        kvCacheBytes: `StaticCache: each layer's K and V buffers for ${staticTokens} tokens × batch ${r.batch}${r.model.slidingWindow !== null ? ` (sliding-window layers: ${Math.min(r.model.slidingWindow, staticTokens)})` : ''}, allocated at the layer's first update and written in place; decode steps attend over the whole buffer behind a mask`,
      } : {}),
    },
  };
}
