/**
 * Which PyTorch processes run on which GPU. A torch sample names its device by torch index and, when the
 * hook knows it, by uuid; nvidia-smi names each process's GPU by uuid. Join on uuid first, then on the pid's
 * nvidia-smi row, and only then on the device index (torch index = nvidia-smi index when CUDA_VISIBLE_DEVICES
 * is unset; the UI marks such pids as joined by index).
 */
import type { GpuProcess, GpuSample, TorchSample } from '../../../shared/data.ts';

export type JoinedBy = 'uuid' | 'pid' | 'index';

export interface TorchOnGpu {
  pid: number;
  joinedBy: JoinedBy;
}

export function gpuUuidOfTorch(sample: Pick<TorchSample, 'pid' | 'device' | 'uuid'>, processes: readonly GpuProcess[], gpus: readonly GpuSample[]): { uuid: string; joinedBy: JoinedBy } | null {
  if (sample.uuid && gpus.some((g) => g.uuid === sample.uuid)) return { uuid: sample.uuid, joinedBy: 'uuid' };
  const rows = processes.filter((p) => p.pid === sample.pid);
  if (rows.length === 1 && rows[0]) return { uuid: rows[0].gpuUuid, joinedBy: 'pid' };
  const byIndex = gpus.find((g) => g.index === sample.device);
  return byIndex ? { uuid: byIndex.uuid, joinedBy: 'index' } : null;
}
