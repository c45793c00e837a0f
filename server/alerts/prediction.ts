/**
 * The estimator's prediction (issue 5) for what a PyTorch process reported about itself: its model (catalog
 * id, or `--model`) and dtype from the hook's load event. Drift compares this prediction with what the run
 * measures; the forecast only falls back on it where the run has not calibrated a number yet. No model or no
 * dtype: no prediction (never a guess).
 */
import { estimate, findGpu, findModel, GPUS, type FloatDtype, type GpuSpec, type ModelSpec } from '../../shared/estimator/index.ts';
import type { Prediction } from './rules/types.ts';

const DTYPES: readonly string[] = ['fp32', 'fp16', 'bf16'];
const DTYPE_ALIASES: Record<string, FloatDtype> = { float32: 'fp32', float16: 'fp16', bfloat16: 'bf16', 'torch.float32': 'fp32', 'torch.float16': 'fp16', 'torch.bfloat16': 'bf16' };

function dtypeOf(v: unknown): FloatDtype | null {
  if (typeof v !== 'string') return null;
  const s = v.toLowerCase();
  return DTYPES.includes(s) ? (s as FloatDtype) : (DTYPE_ALIASES[s] ?? null);
}

/** The catalog GPU whose name nvidia-smi printed ("NVIDIA H200" → h200), for the context size. */
export function gpuSpecOf(name: string | null): GpuSpec | undefined {
  if (!name) return undefined;
  const n = name.toLowerCase();
  return GPUS.find((g) => g.name.toLowerCase() === n) ?? findGpu(n.replace(/^nvidia\s+/, '')) ?? GPUS.find((g) => n.includes(g.id));
}

export function predictFromFacts(facts: Record<string, unknown> | null, modelArg: string | null, gpuName: string | null): Prediction | null {
  const dtype = dtypeOf(facts?.dtype);
  if (!dtype) return null;
  const id = typeof facts?.model === 'string' ? facts.model : modelArg;
  const model: ModelSpec | undefined = id ? findModel(id) : undefined;
  if (!model) return null;
  try {
    const e = estimate({ model, dtype, batch: 1, promptTokens: 1, newTokens: 0, gpu: gpuSpecOf(gpuName) });
    return { weightsBytes: e.weightsBytes, kvBytesPerToken: e.kvBytesPerToken, nonTorchBytes: e.cudaContextBytes + e.workspaceBytes };
  } catch {
    return null; // a model the estimator cannot handle: no prediction, no drift
  }
}
