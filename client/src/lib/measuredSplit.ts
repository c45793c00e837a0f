/**
 * The measured split of a GPU, by the same function the agent runs (shared/attribution.ts `attribute()`),
 * from what the page holds: the newest GPU samples and process rows, the newest PyTorch sample of each process
 * and the weight and KV bytes its hook reported. Also the parts of the processes the prediction does not
 * describe, which the predicted split takes as measured.
 */
import { attribute, type GpuAttribution, type ProcessAttribution, type TorchProcessState } from '../../../shared/attribution.ts';
import type { GpuProcess, GpuSample, TorchSample } from '../../../shared/data.ts';
import type { ProcessFacts } from './processFacts.ts';
import type { PredictedParts, Split } from './split.ts';

export interface MeasuredInput {
  gpus: readonly GpuSample[];
  processes: readonly GpuProcess[];
  /** Newest sample of each live PyTorch process. */
  torch: readonly TorchSample[];
  facts: Readonly<Record<number, ProcessFacts>>;
}

export function torchStates(torch: readonly TorchSample[], facts: Readonly<Record<number, ProcessFacts>>): TorchProcessState[] {
  return torch.map((sample) => ({ sample, weightsBytes: facts[sample.pid]?.weightBytes ?? null, kvCacheBytes: facts[sample.pid]?.kvCacheBytes ?? null }));
}

export function attributeGpus(input: MeasuredInput): GpuAttribution[] {
  const timestampMs = Math.max(0, ...input.gpus.map((g) => g.timestampMs));
  return attribute({ timestampMs, gpus: input.gpus, processes: input.processes, torch: torchStates(input.torch, input.facts) }).gpus;
}

export function splitOf(a: GpuAttribution): Split {
  return {
    weights: a.weightsBytes,
    kv: a.kvCacheBytes,
    activations: a.otherTorchBytes,
    torchCache: a.torchCachedFreeBytes,
    nonTorch: a.nonTorchBytes,
    otherProcesses: a.otherProcessesBytes,
    driverReserved: a.driverReservedBytes,
    free: a.freeBytes,
  };
}

/** A GPU's split when attribution has nothing for it (no sample yet): nvidia-smi's numbers only. */
export function nvidiaSmiOnlySplit(gpu: GpuSample): Split {
  return { weights: null, kv: null, activations: null, torchCache: null, nonTorch: null, otherProcesses: gpu.usedBytes, driverReserved: gpu.reservedBytes, free: gpu.freeBytes };
}

/** The measured parts of the attributed PyTorch processes other than `pid` (taken as measured in the prediction). */
export function othersParts(a: GpuAttribution | undefined, pid: number | null): PredictedParts {
  const others: ProcessAttribution[] = (a?.processes ?? []).filter((p) => p.pid !== pid);
  const add = (f: (p: ProcessAttribution) => number | null): number => others.reduce((s, p) => s + (f(p) ?? 0), 0);
  return {
    weightsBytes: add((p) => p.weightsBytes),
    kvNowBytes: add((p) => p.kvCacheBytes),
    activationBytes: add((p) => p.otherTorchBytes),
    torchCacheBytes: add((p) => p.torchCachedFreeBytes),
    nonTorchBytes: add((p) => p.nonTorchBytes),
  };
}
