/**
 * Pure mapping of `nvidia-smi -q -x` as node-nvidia-smi returns it (xml2js, `explicitArray: false`,
 * `trim: true`) into Headroom's Inventory (formats.md §1.8–1.9). xml2js gives every value as a string, an
 * element that occurs once as an object and one that repeats as an array (`gpu`, `mig_device`), empty
 * elements as whitespace or '', and `N/A` for values the driver has not. Older DTDs name things differently
 * (`power_readings` before `gpu_power_readings`); both are read.
 */
import type { GpuInventory, Inventory, MigDevice } from '../../shared/data.ts';
import { mibToBytes } from '../../shared/units.ts';
import { isPlaceholder, parseNumberCell } from './values.ts';

type Node = Record<string, unknown>;

export class InventoryFormatError extends Error {
  override name = 'InventoryFormatError';
}

function node(x: unknown): Node | null {
  return typeof x === 'object' && x !== null && !Array.isArray(x) ? (x as Node) : null;
}

/** One or many: xml2js gives an object for one element, an array for several, a string for none. */
export function asList(x: unknown): Node[] {
  if (x == null || typeof x === 'string') return [];
  return (Array.isArray(x) ? x : [x]).map(node).filter((n): n is Node => n !== null);
}

function text(x: unknown): string | null {
  if (typeof x !== 'string') return null;
  const t = x.trim();
  return t === '' || isPlaceholder(t) ? null : t;
}

function at(root: unknown, ...path: string[]): unknown {
  let cur: unknown = root;
  for (const key of path) cur = node(cur)?.[key];
  return cur;
}

function num(x: unknown): number | null {
  const t = text(x);
  return t === null ? null : parseNumberCell(t);
}

function mib(x: unknown): number | null {
  return mibToBytes(num(x));
}

function int(x: unknown): number | null {
  const n = num(x);
  return n !== null && Number.isInteger(n) && n >= 0 ? n : null;
}

function enabled(x: unknown): boolean | null {
  const t = text(x)?.toLowerCase();
  if (t === 'enabled') return true;
  if (t === 'disabled') return false;
  return null;
}

function migDevice(d: Node): MigDevice {
  return {
    index: int(d.index),
    uuid: text(d.uuid),
    gpuInstanceId: int(d.gpu_instance_id),
    computeInstanceId: int(d.compute_instance_id),
    totalBytes: mib(at(d, 'fb_memory_usage', 'total')),
    reservedBytes: mib(at(d, 'fb_memory_usage', 'reserved')),
    usedBytes: mib(at(d, 'fb_memory_usage', 'used')),
    freeBytes: mib(at(d, 'fb_memory_usage', 'free')),
  };
}

function gpu(g: Node, position: number): GpuInventory {
  const uuid = text(g.uuid);
  if (!uuid) throw new InventoryFormatError(`nvidia-smi -q -x: GPU ${position} has no <uuid>`);
  const powerLimit =
    num(at(g, 'gpu_power_readings', 'current_power_limit')) ??
    num(at(g, 'power_readings', 'power_limit')) ??
    num(at(g, 'power_readings', 'current_power_limit')) ??
    num(at(g, 'gpu_power_readings', 'power_limit'));
  return {
    uuid,
    name: text(g.product_name),
    busId: text(at(g, '$', 'id')) ?? text(at(g, 'pci', 'pci_bus_id')),
    totalBytes: mib(at(g, 'fb_memory_usage', 'total')),
    persistenceMode: enabled(g.persistence_mode),
    migMode: enabled(at(g, 'mig_mode', 'current_mig')),
    migDevices: asList(at(g, 'mig_devices', 'mig_device')).map(migDevice),
    eccMode: enabled(at(g, 'ecc_mode', 'current_ecc')),
    bar1TotalBytes: mib(at(g, 'bar1_memory_usage', 'total')),
    bar1UsedBytes: mib(at(g, 'bar1_memory_usage', 'used')),
    powerLimitW: powerLimit,
    computeMode: text(g.compute_mode),
  };
}

/** node-nvidia-smi's result → Inventory. Throws InventoryFormatError when this is not `-q -x` output. */
export function inventoryFromSmiXml(data: unknown, nowMs: number): Inventory {
  const log = node(at(data, 'nvidia_smi_log'));
  if (!log) throw new InventoryFormatError('nvidia-smi -q -x gave no <nvidia_smi_log> document');
  return {
    timestampMs: nowMs,
    driverVersion: text(log.driver_version),
    cudaVersion: text(log.cuda_version),
    gpus: asList(log.gpu).map(gpu),
  };
}

/** What a person should know about this machine before trusting the numbers. */
export function inventoryWarnings(inventory: Inventory): { code: string; message: string }[] {
  const out: { code: string; message: string }[] = [];
  inventory.gpus.forEach((g, i) => {
    const which = `GPU ${i}${g.name ? ` (${g.name})` : ''}`;
    if (g.persistenceMode === false) {
      out.push({
        code: 'persistence-off',
        message: `Persistence mode is off on ${which}: the driver may tear down and re-initialise the GPU between uses, so nvidia-smi calls are slow and the first CUDA call pays for it. Enable it with \`sudo nvidia-smi -pm 1\` (or the nvidia-persistenced service).`,
      });
    }
    if (g.migMode === true) {
      out.push({
        code: 'mig',
        message: `MIG is enabled on ${which} (${g.migDevices.length} instance${g.migDevices.length === 1 ? '' : 's'}): the per-GPU numbers add up all instances, and nvidia-smi does not say which instance a process runs on. Per-instance memory is in the inventory.`,
      });
    }
  });
  if (inventory.gpus.length === 0) {
    out.push({ code: 'no-gpus', message: 'nvidia-smi -q -x listed no GPUs.' });
  }
  return out;
}
