/**
 * Public types of the memory estimator. Pure data: bytes are integers, every count is per GPU unless the
 * name says otherwise. The estimator never does I/O; readers in server/estimate turn files into these.
 */

/** Dtypes a tensor can be computed or stored in (activations, 16-bit weights, KV). */
export type FloatDtype = 'fp32' | 'fp16' | 'bf16';

/**
 * Weight storage scheme. Plain dtypes store every tensor in that dtype; the quantized schemes pack the
 * linear layers and keep embeddings, lm_head and norms in 16 bits (as the HF integrations do).
 */
export type WeightScheme =
  | 'fp32' | 'fp16' | 'bf16' | 'fp8' | 'int8'
  | 'gptq-int4' | 'awq-int4' | 'gptq-int8' | 'nf4' | 'nf4-dq'
  | 'q4_0' | 'q4_1' | 'q5_0' | 'q5_1' | 'q8_0' | 'q2_k' | 'q3_k' | 'q4_k' | 'q5_k' | 'q6_k';

/** KV cache element type: 16-bit, fp8, int8 (q8_0 layout: 34 B per 32), int4 (q4_0 layout: 18 B per 32). */
export type KvDtype = 'fp32' | 'fp16' | 'bf16' | 'fp8' | 'int8' | 'int4';

export type AttentionKind = 'sdpa' | 'eager' | 'flash';
export type LogitsMode = 'last' | 'all';

/** Mixture-of-experts block (every expert is resident in memory; top-k only matters for activations). */
export interface MoeSpec {
  experts: number;
  topK: number;
  /** Per-expert FFN width. */
  intermediate: number;
  sharedExperts: number;
  /** Width of one shared expert (DeepSeek: moe_intermediate_size; Qwen2-MoE: shared_expert_intermediate_size). */
  sharedIntermediate: number;
  /** The first N layers are dense (DeepSeek first_k_dense_replace); every other layer is MoE. */
  firstDenseLayers: number;
}

/** Multi-head latent attention (DeepSeek-V2/V3). */
export interface MlaSpec {
  kvLoraRank: number;
  qLoraRank: number | null;
  qkRopeHeadDim: number;
  qkNopeHeadDim: number;
  vHeadDim: number;
}

/** A normalised decoder-only transformer, enough to count every weight, KV element and activation. */
export interface ModelSpec {
  id: string;
  name: string;
  /** HF `model_type` (llama, mistral, qwen2, gemma2, mixtral, deepseek_v2, phi3, chatglm, …). */
  family: string;
  layers: number;
  hidden: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  intermediate: number;
  vocab: number;
  tiedEmbeddings: boolean;
  /** Bias on q/k/v projections (Qwen2, ChatGLM). */
  qkvBias: boolean;
  /** Bias on o_proj and the MLP linears (rare: some Phi/GPT-style models). */
  outBias: boolean;
  /** Per-head RMSNorm on q and k (Qwen3, Gemma-3): 2·headDim weights per layer. */
  qkNorm: boolean;
  /** RMSNorm/LayerNorm weight vectors per layer (Llama 2, Gemma-2 4). */
  normsPerLayer: number;
  /** LayerNorm has a bias as well as a weight. */
  layerNormBias: boolean;
  /** Sliding-window size for local layers, or null when every layer is global. */
  slidingWindow: number | null;
  /** Which layers are local when slidingWindow is set: every layer, or alternating (even layers local). */
  slidingPattern: 'all' | 'alternate';
  maxPositions: number;
  moe: MoeSpec | null;
  mla: MlaSpec | null;
  /** Dtype the checkpoint ships in (config torch_dtype). */
  defaultDtype: FloatDtype;
}

export type Engine =
  | { kind: 'hf-dynamic' }
  | { kind: 'hf-static'; maxCacheTokens?: number }
  | { kind: 'vllm'; blockSize?: number; gpuMemoryUtilization?: number; maxNumBatchedTokens?: number; cudaGraphs?: boolean }
  | { kind: 'llamacpp'; nCtx?: number; nUbatch?: number; flashAttention?: boolean };

export type Optimizer = 'adamw' | 'adamw-8bit' | 'sgd' | 'sgd-momentum';

export interface TrainingInput {
  optimizer: Optimizer;
  /** fp16/bf16 compute with fp32 master weights (ZeRO paper accounting). */
  mixedPrecision: boolean;
  zeroStage: 0 | 1 | 2 | 3;
  /** Data-parallel GPUs the ZeRO states are sharded over. */
  dataParallel: number;
  /** Activation (gradient) checkpointing: keep only each layer's input. */
  checkpointing: boolean;
  /** Offload of optimizer states (and, at ZeRO-3, parameters) to CPU or NVMe. */
  offload: 'none' | 'optimizer' | 'optimizer+params';
}

export interface GpuSpec {
  id: string;
  name: string;
  /** Memory PyTorch sees as total (driver-reserved memory excluded). */
  memoryBytes: number;
  bandwidthGBps: number;
  /** Compute capability major (9 = Hopper) — selects the cuBLAS workspace size. */
  arch: number;
  /** Device memory a fresh CUDA context plus loaded kernels take outside PyTorch. */
  contextBytes: number;
}

export interface EstimateInput {
  model: ModelSpec;
  /** Exact weight bytes of the whole checkpoint (safetensors/GGUF headers); replaces the config count. */
  weightsBytesExact?: number | null;
  /** Activation dtype (and weight dtype when scheme is a plain dtype). */
  dtype: FloatDtype;
  weightScheme?: WeightScheme;
  /** Group size of GPTQ/AWQ (default 128). */
  quantGroupSize?: number;
  kvDtype?: KvDtype;
  batch: number;
  promptTokens: number;
  newTokens?: number;
  attention?: AttentionKind;
  logits?: LogitsMode;
  /** Upcast the logits to fp32 (older HF code, training losses). */
  logitsFp32?: boolean;
  engine?: Engine;
  tp?: number;
  pp?: number;
  gpu?: GpuSpec;
  /** Fraction of GPU memory kept free for the fit verdict (default 0.05). */
  headroomFraction?: number;
  training?: TrainingInput | null;
}

/** One line per number, for the UI. */
export type Explanations = Record<string, string>;

export interface Estimate {
  /** Parameter count of the whole model (all ranks). */
  params: number;
  weightsBytes: number;
  kvCacheBytes: number;
  /** Peak transient of the forward (prefill) above weights + KV: layer temporaries or the logits phase. */
  activationBytes: number;
  logitsBytes: number;
  /** Everything outside weights/KV/activations/logits: context, NCCL, workspace, buffers, allocator slack. */
  overheadBytes: number;
  gradientsBytes: number;
  optimizerBytes: number;
  cudaContextBytes: number;
  ncclBytes: number;
  workspaceBytes: number;
  /** Reserved by PyTorch's caching allocator but not allocated at the peak. */
  allocatorSlackBytes: number;
  /** torch.cuda.max_memory_allocated() over the prefill (or over decode, when that is higher). */
  peakAllocatedBytes: number;
  prefillPeakAllocatedBytes: number;
  decodePeakAllocatedBytes: number;
  /** torch.cuda.memory_reserved() after the prefill. */
  reservedBytes: number;
  /** What nvidia-smi shows for the process after the prefill: reserved plus non-PyTorch memory. */
  deviceUsedBytes: number;
  /** torch.cuda.memory_reserved() after the newTokens decode steps (reservedBytes when there are none). */
  reservedAfterDecodeBytes: number;
  /** What nvidia-smi shows for the process after the decode steps. */
  deviceUsedAfterDecodeBytes: number;
  gpuMemoryBytes: number;
  headroomBytes: number;
  fits: boolean;
  /** Tokens the KV cache holds per sequence after the run (prompt + new). */
  contextTokens: number;
  kvBytesPerToken: number;
  tp: number;
  pp: number;
  engine: Engine['kind'];
  gpu: string;
  explanations: Explanations;
}
