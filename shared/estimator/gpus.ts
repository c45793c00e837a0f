/**
 * GPU catalog: memory PyTorch sees as total (nvidia-smi total minus driver-reserved, MiB · 2^20), peak
 * bandwidth, architecture, and the device memory a CUDA context plus kernels take outside PyTorch.
 * The H200 figures are measured (fixture: total 150,109,880,320 B; 0.68–0.79 GB outside PyTorch after
 * forward passes); other contexts follow the same stack (CUDA 12/13, lazy module loading): ~0.5–0.75 GiB.
 */
import type { GpuSpec } from './types.ts';

const MiB = 1024 * 1024;
const g = (id: string, name: string, mib: number, bandwidthGBps: number, arch: number, contextMiB: number): GpuSpec => ({
  id, name, memoryBytes: mib * MiB, bandwidthGBps, arch, contextBytes: contextMiB * MiB,
});

/** Measured on the H200: NVML used minus torch reserved after a bf16 forward (fixture median 721 MiB, range 695–757 MiB). */
const HOPPER_CONTEXT_MIB = 720;

export const GPUS: readonly GpuSpec[] = [
  { ...g('h200', 'NVIDIA H200 141GB', 143156, 4800, 9, HOPPER_CONTEXT_MIB), memoryBytes: 150_109_880_320 },
  g('h100', 'NVIDIA H100 80GB HBM3', 80995, 3350, 9, HOPPER_CONTEXT_MIB),
  g('h100-pcie', 'NVIDIA H100 PCIe 80GB', 80995, 2000, 9, HOPPER_CONTEXT_MIB),
  g('h100-nvl', 'NVIDIA H100 NVL 94GB', 95280, 3900, 9, HOPPER_CONTEXT_MIB),
  g('gh200', 'NVIDIA GH200 96GB', 97280, 4000, 9, HOPPER_CONTEXT_MIB),
  g('b200', 'NVIDIA B200 180GB', 183359, 8000, 10, 800),
  g('a100-80', 'NVIDIA A100 80GB', 81050, 2039, 8, 560),
  g('a100-40', 'NVIDIA A100 40GB', 40339, 1555, 8, 560),
  g('a10', 'NVIDIA A10 24GB', 22731, 600, 8, 500),
  g('a10g', 'NVIDIA A10G 24GB', 22731, 600, 8, 500),
  g('l4', 'NVIDIA L4 24GB', 22491, 300, 8, 500),
  g('l40s', 'NVIDIA L40S 48GB', 45892, 864, 8, 520),
  g('a6000', 'NVIDIA RTX A6000 48GB', 48676, 768, 8, 520),
  g('rtx4090', 'NVIDIA GeForce RTX 4090 24GB', 24082, 1008, 8, 480),
  g('rtx3090', 'NVIDIA GeForce RTX 3090 24GB', 24154, 936, 8, 480),
  g('rtx5090', 'NVIDIA GeForce RTX 5090 32GB', 32120, 1792, 10, 500),
  g('t4', 'NVIDIA T4 16GB', 15095, 320, 7, 420),
  g('v100', 'NVIDIA V100 32GB', 32494, 900, 7, 450),
  g('mi300x', 'AMD Instinct MI300X 192GB', 196592, 5300, 9, 750),
];

export function findGpu(id: string): GpuSpec | undefined {
  const key = id.toLowerCase().replace(/[\s_]/g, '-');
  return GPUS.find((x) => x.id === key);
}

/** cuBLAS workspace PyTorch keeps per handle: ":4096:8" (32 MiB) on Hopper and later, ":4096:2:16:8" before. */
export function cublasWorkspaceBytes(gpu: GpuSpec): number {
  return gpu.arch >= 9 ? 32 * MiB : 4096 * 1024 * 2 + 16 * 1024 * 8;
}
