/**
 * Training memory per GPU: parameters, gradients, optimizer states (ZeRO paper accounting: mixed-precision
 * Adam = 2 + 2 + 4 + 4 + 4 B/param), activations saved for backward, the loss logits, and ZeRO 0–3
 * sharding over the data-parallel GPUs with optional CPU/NVMe offload (DeepSpeed's estimators).
 */
import type { Resolved } from './resolve.ts';
import { kvHeadsPerRank, type WeightsBreakdown } from './weights.ts';

const OPTIMIZER_BYTES = { adamw: 8, 'adamw-8bit': 2, sgd: 0, 'sgd-momentum': 4 } as const;

export interface TrainingMemory {
  weightsBytes: number;
  gradientsBytes: number;
  optimizerBytes: number;
  activationBytes: number;
  logitsBytes: number;
  transientBytes: number;
  notes: Record<string, string>;
}

export function trainingMemory(r: Resolved, w: WeightsBreakdown): TrainingMemory {
  const t = r.training!;
  const m = r.model;
  const B = r.bytes;
  const n = t.dataParallel;
  const share = w.perGpuBytes / w.totalBytes;
  const params = w.params * share;
  // DeepSpeed's "largest layer": a decoder layer or the embedding, whichever holds more parameters.
  const largest = Math.max(w.layerTensorBytes.reduce((s, x) => s + x, 0), w.bodyTensorBytes[0] ?? 0) / B;
  const mixed = t.mixedPrecision && B < 4;
  const offOpt = t.offload !== 'none';
  const offParams = t.offload === 'optimizer+params' && t.zeroStage === 3;
  // Optimizer partition per parameter: moments, + fp32 master (mixed), + the fp32 gradient partition ZeRO keeps.
  const perParamOpt = OPTIMIZER_BYTES[t.optimizer] + (mixed ? 4 : 0) + (mixed && t.zeroStage >= 1 ? 4 : 0);
  let weights: number;
  let grads: number;
  if (t.zeroStage === 3) {
    // estimate_zero3_model_states_mem_needs: 4 · largest layer (its gathered params and grads) + 18·P/N.
    weights = (offParams ? 0 : (params * B) / n) + largest * B;
    grads = largest * B;
  } else {
    weights = params * B;
    grads = offOpt && t.zeroStage === 2 ? 0 : (params * B) / (t.zeroStage === 2 ? n : 1);
  }
  const optimizer = offOpt ? 0 : (params * perParamOpt) / (t.zeroStage >= 1 ? n : 1);
  // Saved for backward per token and layer (Llama block, flash attention): norm inputs/outputs and residuals
  // (3·h), q/k/v and the attention output, the attention LSE (fp32 per head), gate, up, act and product (4·I).
  const T = r.batch * r.prompt;
  const a = m.heads / r.tp;
  const kv = kvHeadsPerRank(m.kvHeads, r.tp);
  const I = (m.moe ? m.moe.intermediate * m.moe.topK + m.moe.sharedExperts * m.moe.sharedIntermediate : m.intermediate) / r.tp;
  const perLayerToken = B * (3 * m.hidden + 2 * a * m.headDim + 2 * kv * m.headDim + 4 * I) + 4 * a;
  const layers = w.layersPerGpu;
  const activations = t.checkpointing ? T * (layers * m.hidden * B + perLayerToken) : T * layers * perLayerToken;
  const logits = T * Math.ceil(m.vocab / r.tp) * (B + 4 + 4);
  const transient = T * (4 * m.hidden + 3 * I) * B;
  return {
    weightsBytes: Math.round(weights),
    gradientsBytes: Math.round(grads),
    optimizerBytes: Math.round(optimizer),
    activationBytes: Math.round(activations + transient),
    logitsBytes: logits,
    transientBytes: transient,
    notes: {
      weightsBytes: t.zeroStage === 3
        ? `ZeRO-3: ${offParams ? 'parameters offloaded' : `P·${B} B / ${n} GPUs`} + the largest layer gathered (${Math.round(largest)} params × ${B} B)`
        : `P = ${Math.round(params)} parameters on this GPU × ${B} B`,
      gradientsBytes: t.zeroStage === 3 ? `ZeRO-3: gradients of the gathered layer only (${Math.round(largest)} × ${B} B)` : `P × ${B} B${t.zeroStage === 2 ? ` / ${n} (ZeRO-2)` : ''}${grads === 0 ? ' — offloaded' : ''}`,
      optimizerBytes: offOpt
        ? `optimizer states offloaded (${t.offload}) — 0 B on the GPU`
        : `P × ${perParamOpt} B (${t.optimizer}${mixed ? ' + fp32 master' : ''}${mixed && t.zeroStage >= 1 ? ' + fp32 gradient partition' : ''})${t.zeroStage >= 1 ? ` / ${n} (ZeRO-${t.zeroStage})` : ''}`,
      activationBytes: t.checkpointing
        ? `checkpointing: ${layers} layer inputs (h·B per token) + one recomputed layer (${perLayerToken} B/token) + one layer's transient`
        : `${layers} layers × ${perLayerToken} B per token saved for backward (3·h + q,k,v,o + LSE + 4·I) + one layer's transient`,
      logitsBytes: `loss: ${T} tokens × V × (${B} B logits + fp32 upcast + fp32 grad)`,
    },
  };
}
