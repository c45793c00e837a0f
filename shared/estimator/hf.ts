/**
 * Hugging Face transformers inference (dynamic or static cache): the prefill is replayed against the
 * caching-allocator model (forward.ts); decode adds one token per step, and DynamicCache's torch.cat
 * keeps the old and the new copy of one layer's K (or V) alive at once.
 */
import { roundRequest } from './allocator.ts';
import { residentLayout } from './weightsLayout.ts';
import { KV_BYTES } from './dtypes.ts';
import { replayPrefill, type ForwardShape } from './forward.ts';
import { cublasWorkspaceBytes } from './gpus.ts';
import { kvElementsPerTokenLayer } from './kv.ts';
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

export function forwardShape(r: Resolved, layers: number, staticTokens: number | null): ForwardShape {
  const m = r.model;
  const moe = m.moe
    ? { experts: m.moe.experts, topK: m.moe.topK, intermediate: m.moe.intermediate / r.tp, sharedWidth: (m.moe.sharedExperts * m.moe.sharedIntermediate) / r.tp, denseLayers: m.moe.firstDenseLayers }
    : null;
  const mla = m.mla
    ? { kvLoraRank: m.mla.kvLoraRank, qLoraRank: m.mla.qLoraRank, qkHeadDim: m.mla.qkNopeHeadDim + m.mla.qkRopeHeadDim, ropeDim: m.mla.qkRopeHeadDim, vHeadDim: m.mla.vHeadDim }
    : null;
  return {
    dtype: r.dtype, batch: r.batch, seq: r.prompt, bytes: r.bytes, hidden: m.hidden, heads: m.heads / r.tp, kvHeads: kvHeadsPerRank(m.kvHeads, r.tp),
    headDim: m.headDim, intermediate: m.intermediate / r.tp, vocab: Math.ceil(m.vocab / r.tp), layers,
    attention: sdpaBackend(r), arch: m.family === 'phi3' ? 'phi3' : m.family === 'gemma2' ? 'gemma2' : 'llama', qkNorm: m.qkNorm,
    slidingWindow: m.slidingWindow, slidingAlternate: m.slidingPattern === 'alternate', logitsAll: r.logits === 'all', logitsFp32: r.logitsFp32, kvBytes: KV_BYTES[r.kvDtype],
    staticCacheTokens: staticTokens, moe, mla, weightTails: [], weightTailsKey: '',
  };
}

export function hfRuntime(r: Resolved, w: WeightsBreakdown, weightsPerGpu: number, kvFinalBytes: number): RuntimeMemory {
  const layers = w.layersPerGpu;
  const ctx = r.prompt + r.newTokens;
  const staticTokens = r.engine.kind === 'hf-static' ? Math.max(r.engine.maxCacheTokens ?? ctx, r.prompt) : null;
  const resident = residentLayout(w.layerTensorBytes, layers, w.bodyTensorBytes);
  const sim = replayPrefill({ ...forwardShape(r, layers, staticTokens), weightTails: resident.freeBlocks, weightTailsKey: resident.key });
  const workspace = cublasWorkspaceBytes(r.gpu);
  // RoPE inv_freq and original_inv_freq buffers (fp32, head_dim / 2 each).
  const buffers = 2 * roundRequest(((r.model.mla ? r.model.mla.qkRopeHeadDim : r.model.headDim) / 2) * 4);
  const base = weightsPerGpu + workspace + buffers;
  const rows = r.logits === 'all' ? r.batch * r.prompt : r.batch;
  const logitsBytes = rows * Math.ceil(r.model.vocab / r.tp) * (r.logitsFp32 ? 4 : r.bytes);
  const idsBytes = roundRequest(r.batch * r.prompt * 8);
  const kvPrefill = sim.kvBytes;
  const prefillPeak = base + sim.peakBytes;
  const activation = Math.max(0, sim.peakBytes - kvPrefill - logitsBytes);
  // Decode: KV at full context + the old copy of one layer's K during torch.cat + one token's layer temporaries.
  let decodePeak = 0;
  if (r.newTokens > 0) {
    const perLayerTensor = (r.batch * (ctx - 1) * kvElementsPerTokenLayer(r.model, r.tp, r.engine.kind) * KV_BYTES[r.kvDtype]) / 2;
    const step = r.batch * (4 * r.model.hidden + 3 * (r.model.intermediate / r.tp)) * r.bytes + r.batch * r.model.vocab * r.bytes;
    decodePeak = base + kvFinalBytes + (staticTokens === null ? perLayerTensor : 0) + step + logitsBytes + idsBytes;
  }
  const reserved = resident.reservedBytes + workspace + sim.reservedBytes;
  return {
    kvPrefillBytes: kvPrefill, activationBytes: activation, logitsBytes, workspaceBytes: workspace + buffers,
    prefillPeakBytes: prefillPeak, decodePeakBytes: decodePeak, reservedBytes: reserved, nonTorchBytes: r.gpu.contextBytes,
    notes: {
      activationBytes: `prefill transient at the peak (${sdpaBackend(r)} attention): ${sim.peakPhase}; replayed tensor by tensor from the HF forward (${layers} layers × ${r.batch}·${r.prompt} tokens)`,
      allocatorSlackBytes: `segments PyTorch's caching allocator keeps after the prefill (best-fit, 2 MiB rounding, 20 MiB segments for 1–10 MiB, KV blocks splitting cached transients) minus the peak`,
    },
  };
}
