/**
 * Headroom's memory estimator: pure TypeScript (no I/O), shared by the agent, the CLI and the browser.
 *
 *   import { estimate, findModel, findGpu } from '../shared/estimator/index.ts';
 *   const e = estimate({ model: findModel('llama-3-8b')!, dtype: 'bf16', batch: 8, promptTokens: 2048, gpu: findGpu('h200') });
 *   e.peakAllocatedBytes; e.deviceUsedBytes; e.fits; e.explanations.kvCacheBytes;
 */
export type {
  AttentionKind, Engine, Estimate, EstimateInput, Explanations, FloatDtype, GpuSpec, KvDtype, LogitsMode, MlaSpec, ModelSpec,
  MoeSpec, Optimizer, TrainingInput, WeightScheme,
} from './types.ts';
export { estimate } from './estimate.ts';
export { EstimateError } from './resolve.ts';
export { solveMaxBatch, solveMaxPrompt, solveSmallestGpu, type GpuChoice } from './solvers.ts';
export { MODELS, findModel, modelSpec } from './models.ts';
export { GPUS, findGpu } from './gpus.ts';
export { FLOAT_BYTES, KV_BYTES, KV_DTYPES, WEIGHT_SCHEMES, GGUF_BLOCKS, bitsPerWeight, linearBytes } from './dtypes.ts';
export { paramCount, weightsBreakdown } from './weights.ts';
export { kvCacheBytes } from './kv.ts';
export { modelFromHfConfig } from './hfConfig.ts';
