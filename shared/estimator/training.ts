/**
 * Training memory per GPU for one optimizer step of a Hugging Face decoder: parameters, gradients, optimizer
 * states, the activations autograd saves for backward, the loss, and the optimizer's own temporaries.
 *
 * Precision regimes (what the libraries do):
 * - plain PyTorch without ZeRO, mixedPrecision: torch.autocast over fp32 parameters (AMP): fp32 weights, fp32
 *   gradients, fp32 AdamW moments (4 + 4 + 8 B/param), 16-bit copies of the weights saved for backward;
 * - plain PyTorch, 16-bit (or fp32) parameters: gradients and torch.optim moments in the parameters' dtype;
 * - ZeRO 1–3 (DeepSpeed): 16-bit weights and gradients, fp32 master weights and moments (and the fp32 gradient
 *   partition) in the optimizer, sharded over the data-parallel GPUs, with CPU/NVMe offload (DeepSpeed's
 *   estimators, the ZeRO paper's 2 + 2 + 12 B/param).
 *
 * Saved for backward per token and decoder layer (Llama block, SDPA): each RMSNorm keeps its fp32 input, the
 * reciprocal RMS and its normalised output; the linears keep their inputs (under autocast, a 16-bit copy per
 * projection); attention keeps rotated q, k, v, its output and the fp32 log-sum-exp; the MLP keeps gate, act,
 * up and their product. Checkpointing keeps only each layer's input and recomputes one layer at a time. The loss
 * (logits.float(), log_softmax, nll) peaks in its backward at 12 B per token and vocabulary entry. torch.optim's
 * foreach AdamW needs one parameter-sized temporary during step(). Checked against plain-PyTorch training steps
 * on an H200 (test/fixtures/groundtruth/h200_training.jsonl).
 */
import type { Resolved } from './resolve.ts';
import type { Optimizer } from './types.ts';
import { kvHeadsPerRank, type WeightsBreakdown } from './weights.ts';

/** Optimizer state bytes per parameter with moments in `stateBytes` (fp32 under ZeRO/AMP, else the param dtype). */
function optimizerStateBytes(optimizer: Optimizer, stateBytes: number): number {
  switch (optimizer) {
    case 'adamw': return 2 * stateBytes;
    case 'adamw-8bit': return 2;
    case 'sgd': return 0;
    case 'sgd-momentum': return stateBytes;
  }
}

export interface TrainingMemory {
  weightsBytes: number;
  gradientsBytes: number;
  optimizerBytes: number;
  /** Activations at the step's peak (above weights, gradients then present, and optimizer states). */
  activationBytes: number;
  logitsBytes: number;
  /** torch.cuda.max_memory_allocated() over a step. */
  peakBytes: number;
  /** What comes and goes within a step at its peak (everything but weights and optimizer states). */
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
  const zero = t.zeroStage >= 1;
  const amp = t.mixedPrecision && !zero && B < 4;
  // Parameter and gradient dtype, the moments' dtype, and the residual stream's (fp32 under autocast).
  const paramBytes = amp ? 4 : B;
  const stateBytes = zero || amp ? 4 : paramBytes;
  const residual = amp ? 4 : B;
  // DeepSpeed's "largest layer": a decoder layer or the embedding, whichever holds more parameters.
  const largest = Math.max(w.layerTensorBytes.reduce((s, x) => s + x, 0), w.bodyTensorBytes[0] ?? 0) / B;
  const mixedZero = t.mixedPrecision && zero && B < 4;
  const offOpt = t.offload !== 'none';
  const offParams = t.offload === 'optimizer+params' && t.zeroStage === 3;
  // Optimizer partition per parameter: moments, + fp32 master and the fp32 gradient partition (ZeRO mixed).
  const perParamOpt = optimizerStateBytes(t.optimizer, stateBytes) + (mixedZero ? 8 : 0);
  let weights: number;
  let grads: number;
  if (t.zeroStage === 3) {
    // estimate_zero3_model_states_mem_needs: 4 · largest layer (its gathered params and grads) + 18·P/N.
    weights = (offParams ? 0 : (params * B) / n) + largest * B;
    grads = largest * B;
  } else {
    weights = params * paramBytes;
    grads = offOpt && t.zeroStage === 2 ? 0 : (params * paramBytes) / (t.zeroStage === 2 ? n : 1);
  }
  const optimizer = offOpt ? 0 : (params * perParamOpt) / (zero ? n : 1);

  // Saved for backward, per token.
  const T = r.batch * r.prompt;
  const h = m.hidden;
  const a = m.heads / r.tp;
  const kv = kvHeadsPerRank(m.kvHeads, r.tp);
  const d = m.headDim;
  const I = (m.moe ? m.moe.intermediate * m.moe.topK + m.moe.sharedExperts * m.moe.sharedIntermediate : m.intermediate) / r.tp;
  const V = Math.ceil(m.vocab / r.tp);
  const norm = 4 * h + 4 + residual * h; // fp32 input, 1/rms, normalised output
  const linearInputs = amp ? (3 + 2) * 2 * h : 2 * residual * h; // per-projection 16-bit casts, or the shared inputs
  const attention = (2 * a + 2 * kv) * d * B + 4 * a;
  const mlp = 4 * I * B;
  const perLayer = 2 * norm + linearInputs + attention + mlp;
  const layers = w.layersPerGpu;
  const saved = T * (t.checkpointing ? layers * h * residual : layers * perLayer) + T * norm; // + the final norm
  const recompute = t.checkpointing ? T * perLayer : 0;
  // Autocast's 16-bit weight copies, saved by each linear for backward (the embedding is not cast).
  const castCopies = amp ? 2 * params - (m.tiedEmbeddings ? 0 : 2 * m.vocab * h * share) : 0;
  // DynamicCache copies of K and V (use_cache stays on without checkpointing) live until the forward returns.
  const cache = t.checkpointing ? 0 : T * layers * 2 * kv * d * B;
  const lossForward = T * V * (B + 4 + 4); // logits, logits.float(), log_softmax (saved)
  const lossBackward = T * V * 12; // log_softmax output + nll gradient + log_softmax gradient
  const states = weights + optimizer;
  const stepTemp = !zero && t.optimizer === 'adamw' && !offOpt ? params * stateBytes : 0; // foreach AdamW: sqrt(v)
  // Tied embeddings: the embedding's gradient is accumulated into lm_head's (a new gradient and the sum).
  const tiedAccumulate = m.tiedEmbeddings ? 2 * V * h * paramBytes : 0;
  const peaks = [
    states + castCopies + saved + cache + lossForward, // forward end: the loss computed
    states + castCopies + saved + lossBackward, // loss backward
    states + castCopies + saved + recompute, // checkpointed layer recomputed for its backward
    states + grads + stepTemp, // optimizer.step()
    states + grads + tiedAccumulate, // end of backward: the tied embedding's gradient accumulated
  ];
  const peak = Math.max(...peaks);
  const late = peak === peaks[3] || peak === peaks[4]; // after backward: gradients present, activations gone
  const gradsAtPeak = late ? grads : 0;
  const logits = late ? 0 : peak === peaks[0] ? lossForward : lossBackward;
  const activation = Math.max(0, peak - weights - optimizer - gradsAtPeak - logits);
  return {
    weightsBytes: Math.round(weights),
    gradientsBytes: Math.round(grads),
    optimizerBytes: Math.round(optimizer),
    activationBytes: Math.round(activation),
    logitsBytes: logits,
    peakBytes: Math.round(peak),
    transientBytes: Math.round(peak - weights - optimizer),
    notes: {
      weightsBytes: t.zeroStage === 3
        ? `ZeRO-3: ${offParams ? 'parameters offloaded' : `P·${B} B / ${n} GPUs`} + the largest layer gathered (${Math.round(largest)} params × ${B} B)`
        : `P = ${Math.round(params)} parameters on this GPU × ${paramBytes} B${amp ? ' (fp32 under autocast)' : ''}`,
      gradientsBytes: t.zeroStage === 3 ? `ZeRO-3: gradients of the gathered layer only (${Math.round(largest)} × ${B} B)` : `P × ${paramBytes} B${t.zeroStage === 2 ? ` / ${n} (ZeRO-2)` : ''}${grads === 0 ? ' — offloaded' : ''}`,
      optimizerBytes: offOpt
        ? `optimizer states offloaded (${t.offload}) — 0 B on the GPU`
        : `P × ${perParamOpt} B (${t.optimizer}, moments in ${stateBytes === 4 ? 'fp32' : `${stateBytes}-byte`}${mixedZero ? ' + fp32 master + fp32 gradient partition' : ''})${zero ? ` / ${n} (ZeRO-${t.zeroStage})` : ''}`,
      activationBytes: t.checkpointing
        ? `checkpointing: ${layers} layer inputs (h·${residual} B per token) + one layer recomputed (${perLayer} B/token)${amp ? ' + autocast weight copies' : ''}`
        : `${layers} layers × ${perLayer} B per token saved for backward (norms, linear inputs, q/k/v/out + LSE, 4·I)${amp ? ' + autocast weight copies' : ''}`,
      logitsBytes: `loss: ${T} tokens × V × 12 B in its backward (fp32 log_softmax, its gradient and the nll gradient)`,
    },
  };
}
