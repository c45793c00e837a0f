/**
 * Headroom's data records: what sources produce, what the agent keeps and broadcasts, and what a
 * recording stores (one record per JSON line). Declared once as zod schemas so every boundary that
 * reads them (recording files, sockets, tests) validates with the same rules; types are inferred.
 *
 * Conventions: bytes are integers, times are epoch milliseconds, `null` means "not available"
 * (never a fake 0). For a GPU, total = used + reserved + free (nvidia-smi v2 memory semantics).
 */
import { z } from 'zod';

const bytes = z.number().int().nonnegative();
const nullableBytes = bytes.nullable();
const epochMs = z.number().finite();

/** Device health derived from nvidia-smi placeholders (`[GPU is lost]`, `[GPU requires reset]`, `[Unknown Error]`). */
export const GpuHealthSchema = z.enum(['ok', 'unknown-error', 'reset-required', 'lost']);
export type GpuHealth = z.infer<typeof GpuHealthSchema>;

/** One GPU at one instant. Equivalent: `nvidia-smi --query-gpu=timestamp,index,uuid,name,... --format=csv,noheader,nounits`. */
export const GpuSampleSchema = z.object({
  timestampMs: epochMs,
  index: z.number().int().nonnegative(),
  uuid: z.string().min(1),
  name: z.string().nullable(),
  busId: z.string().nullable(),
  totalBytes: nullableBytes,
  reservedBytes: nullableBytes,
  usedBytes: nullableBytes,
  freeBytes: nullableBytes,
  utilizationGpuPercent: z.number().nullable(),
  utilizationMemoryPercent: z.number().nullable(),
  temperatureC: z.number().nullable(),
  powerDrawW: z.number().nullable(),
  powerLimitW: z.number().nullable(),
  pstate: z.string().nullable(),
  health: GpuHealthSchema,
});
export type GpuSample = z.infer<typeof GpuSampleSchema>;

/** One compute process on one GPU. Equivalent: `--query-compute-apps=pid,process_name,used_gpu_memory,gpu_uuid`. */
export const GpuProcessSchema = z.object({
  pid: z.number().int().nonnegative(),
  name: z.string().nullable(),
  usedBytes: nullableBytes,
  gpuUuid: z.string().min(1),
});
export type GpuProcess = z.infer<typeof GpuProcessSchema>;

/** Host RAM and CPU (systeminformation): CPU offload and pinned memory live here. */
export const HostSampleSchema = z.object({
  timestampMs: epochMs,
  memTotalBytes: nullableBytes,
  memUsedBytes: nullableBytes,
  memAvailableBytes: nullableBytes,
  cpuLoadPercent: z.number().nullable(),
});
export type HostSample = z.infer<typeof HostSampleSchema>;

/** One `torch.cuda.memory_stats()` reading of one process on one device. */
export const TorchSampleSchema = z.object({
  timestampMs: epochMs,
  pid: z.number().int().nonnegative(),
  /** torch device index: not the nvidia-smi index in general; join on `uuid` when present. */
  device: z.number().int().nonnegative(),
  uuid: z.string().nullable(),
  phase: z.string().nullable(),
  allocatedBytes: bytes,
  reservedBytes: bytes,
  activeBytes: nullableBytes,
  inactiveSplitBytes: nullableBytes,
  peakAllocatedBytes: nullableBytes,
  numAllocRetries: z.number().int().nonnegative().nullable(),
  numOoms: z.number().int().nonnegative().nullable(),
});
export type TorchSample = z.infer<typeof TorchSampleSchema>;

/** A marker from a PyTorch process: phase, request, oom, empty_cache, kv_cache, weights, end, ... */
export const TorchEventSchema = z.object({
  timestampMs: epochMs,
  pid: z.number().int().nonnegative(),
  device: z.number().int().nonnegative().nullable(),
  kind: z.string().min(1),
  name: z.string().nullable(),
  message: z.string().nullable(),
  /** Further facts as the process reported them (batch, prompt_tokens, kv_bytes, weight_bytes, config...). */
  facts: z.record(z.string(), z.unknown()),
});
export type TorchEvent = z.infer<typeof TorchEventSchema>;

export const MigDeviceSchema = z.object({
  index: z.number().int().nonnegative().nullable(),
  uuid: z.string().nullable(),
  gpuInstanceId: z.number().int().nonnegative().nullable(),
  computeInstanceId: z.number().int().nonnegative().nullable(),
  totalBytes: nullableBytes,
  reservedBytes: nullableBytes,
  usedBytes: nullableBytes,
  freeBytes: nullableBytes,
});
export type MigDevice = z.infer<typeof MigDeviceSchema>;

/** Static facts about one GPU, from `nvidia-smi -q -x` (read at start and on request, never per sample). */
export const GpuInventorySchema = z.object({
  uuid: z.string().min(1),
  name: z.string().nullable(),
  busId: z.string().nullable(),
  totalBytes: nullableBytes,
  persistenceMode: z.boolean().nullable(),
  migMode: z.boolean().nullable(),
  migDevices: z.array(MigDeviceSchema),
  eccMode: z.boolean().nullable(),
  bar1TotalBytes: nullableBytes,
  bar1UsedBytes: nullableBytes,
  powerLimitW: z.number().nullable(),
  computeMode: z.string().nullable(),
});
export type GpuInventory = z.infer<typeof GpuInventorySchema>;

export const InventorySchema = z.object({
  timestampMs: epochMs,
  driverVersion: z.string().nullable(),
  cudaVersion: z.string().nullable(),
  gpus: z.array(GpuInventorySchema),
});
export type Inventory = z.infer<typeof InventorySchema>;

/**
 * A data record: what a source emits, the agent's hub dispatches, and a recording stores (one per line).
 * `t` is the record's epoch-ms time, used to order and pace replay.
 */
export const DataRecordSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('gpu'), t: epochMs, gpus: z.array(GpuSampleSchema).min(1) }),
  z.object({ kind: z.literal('processes'), t: epochMs, processes: z.array(GpuProcessSchema) }),
  z.object({ kind: z.literal('host'), t: epochMs, host: HostSampleSchema }),
  z.object({ kind: z.literal('torch'), t: epochMs, sample: TorchSampleSchema }),
  z.object({ kind: z.literal('torchEvent'), t: epochMs, event: TorchEventSchema }),
  z.object({ kind: z.literal('inventory'), t: epochMs, inventory: InventorySchema }),
]);
export type DataRecord = z.infer<typeof DataRecordSchema>;
export type DataRecordKind = DataRecord['kind'];
export type DataRecordOf<K extends DataRecordKind> = Extract<DataRecord, { kind: K }>;
