/**
 * Non-PyTorch-eager engine profiles. vLLM preallocates its KV pool to fill `total × gpu_memory_utilization`
 * after weights, the profile run's activation peak and non-torch memory (vllm/v1/worker/gpu_worker.py);
 * llama.cpp allocates weights, the n_ctx KV cache and a compute buffer from ggml (no caching allocator).
 */
import type { RuntimeMemory } from './hf.ts';
import type { Resolved } from './resolve.ts';

const MiB = 1024 * 1024;
/** vLLM's CUDA-graph pool, measured by users: 0.25 GiB (8B, L4) to 2.4 GiB (34B, TP4); scaled with width. */
function cudaGraphBytes(r: Resolved): number {
  return Math.round(Math.min(2.4, 0.25 + (r.model.hidden * r.model.layers) / (8192 * 80)) * 1024 * MiB);
}

export interface VllmMemory extends RuntimeMemory {
  poolBytes: number;
  budgetBytes: number;
  graphBytes: number;
}

export function vllmRuntime(r: Resolved, weightsPerGpu: number, kvNeededBytes: number): VllmMemory {
  if (r.engine.kind !== 'vllm') throw new Error('vllmRuntime needs the vllm engine');
  const m = r.model;
  const util = r.engine.gpuMemoryUtilization ?? 0.9;
  const tokens = r.engine.maxNumBatchedTokens ?? Math.max(8192, r.prompt);
  const B = r.bytes;
  // Profile run: fused qkv + gate_up (2·I) and act_and_mul (I) per token, plus the sampler's fp32 logits.
  const act = tokens * (3 * m.hidden + (3 * m.intermediate) / r.tp + (m.heads * m.headDim) / r.tp) * B;
  const sampler = Math.min(r.batch, 256) * Math.ceil(m.vocab / r.tp) * 4 * 2;
  const budget = Math.floor(r.gpu.memoryBytes * util);
  // NCCL is created before vLLM's baseline snapshot, so only the context counts against the budget.
  const nonTorch = r.gpu.contextBytes;
  const pool = Math.max(0, budget - weightsPerGpu - act - sampler - nonTorch);
  const graphs = r.engine.cudaGraphs === false ? 0 : cudaGraphBytes(r);
  const logits = r.batch * Math.ceil(m.vocab / r.tp) * 4;
  return {
    kvPrefillBytes: kvNeededBytes, activationBytes: act + sampler - logits, logitsBytes: logits, workspaceBytes: 0,
    prefillPeakBytes: weightsPerGpu + pool + act + sampler, decodePeakBytes: 0,
    reservedBytes: weightsPerGpu + pool + act + sampler + graphs, reservedAfterDecodeBytes: weightsPerGpu + pool + act + sampler + graphs, nonTorchBytes: nonTorch,
    poolBytes: pool, budgetBytes: budget, graphBytes: graphs,
    notes: {
      kvCacheBytes: `vLLM KV pool = ${util} × GPU memory − weights − profile activations − non-torch = ${pool} B; this request needs ${kvNeededBytes} B (whole ${r.engine.blockSize ?? 16}-token blocks)`,
      activationBytes: `vLLM profile run over ${tokens} batched tokens: (3·h + 3·I + a·d)·B per token, plus sampler logits`,
      allocatorSlackBytes: `CUDA-graph pool (captured after KV sizing, outside the budget): ${graphs} B`,
    },
  };
}

/**
 * NCCL buffers per rank, outside PyTorch's allocator: device used rose by 838 MiB on each of two H200s over NVLink
 * across init_process_group and a first all-reduce, with PyTorch's cache emptied (h200_tp2.jsonl). The 860 MiB in
 * the estimator notes (gpu_loop_2gpu.csv) also holds the 20 MiB segment PyTorch kept for the all-reduce's tensor.
 */
export const NCCL_BYTES = 838 * MiB;

export function llamaCppRuntime(r: Resolved, weightsPerGpu: number, kvBytes: number): RuntimeMemory {
  if (r.engine.kind !== 'llamacpp') throw new Error('llamaCppRuntime needs the llamacpp engine');
  const m = r.model;
  const ub = r.engine.nUbatch ?? 512;
  const nCtx = r.engine.nCtx ?? r.batch * (r.prompt + r.newTokens);
  const fa = r.engine.flashAttention ?? true;
  // ggml compute buffer for one ubatch: fp32 logits (n_ubatch × V), the widest layer intermediates, and
  // without flash attention the KQ matrix (n_ubatch × n_ctx × heads, fp32).
  const logits = ub * m.vocab * 4;
  const layer = ub * (2 * m.hidden + 3 * m.intermediate) * 4;
  const kq = fa ? 0 : ub * nCtx * m.heads * 4;
  const compute = logits + layer + kq;
  const context = Math.min(r.gpu.contextBytes, 400 * MiB);
  return {
    kvPrefillBytes: kvBytes, activationBytes: layer + kq, logitsBytes: logits, workspaceBytes: 0,
    prefillPeakBytes: weightsPerGpu + kvBytes + compute, decodePeakBytes: 0,
    reservedBytes: weightsPerGpu + kvBytes + compute, reservedAfterDecodeBytes: weightsPerGpu + kvBytes + compute, nonTorchBytes: context,
    notes: {
      kvCacheBytes: `llama.cpp KV: n_ctx ${nCtx} × Σ layers (n_embd_k_gqa + n_embd_v_gqa) × type size`,
      activationBytes: `ggml compute buffer per ${ub}-token ubatch: (2·h + 3·I)·4 B per token${fa ? '' : ' + KQ n_ubatch·n_ctx·heads·4 B (no flash attention)'}`,
      logitsBytes: `fp32 logits for one ubatch: ${ub} × ${m.vocab} × 4 B`,
      cudaContextBytes: `CUDA context and ggml CUDA pool outside the buffers (~${Math.round(context / MiB)} MiB)`,
    },
  };
}
