/**
 * Reads the static inventory with node-nvidia-smi (`nvidia-smi -q -x` parsed by xml2js): at start and when a
 * client asks (`inventory:refresh`), never per sample (one call costs about 110 ms of nvidia-smi on an H200).
 * node-nvidia-smi runs `nvidia-smi` from PATH through a shell, so the directory of the configured binary is put
 * first on PATH for the moment of the call (spawning is synchronous); and it has no timeout, so one is added.
 */
import { basename, delimiter, dirname, resolve as resolvePath } from 'node:path';
import nvidiaSmi from 'node-nvidia-smi';
import type { Inventory } from '../../../shared/data.ts';
import { classifySmiExit } from '../../nvidia-smi/failures.ts';
import { inventoryFromSmiXml } from '../../nvidia-smi/inventory.ts';

export const INVENTORY_TIMEOUT_MS = 15_000;

/** node-nvidia-smi's raw result (xml2js JSON) for the nvidia-smi at `smiPath`. */
export function runNodeNvidiaSmi(smiPath: string, env: NodeJS.ProcessEnv = process.env, timeoutMs = INVENTORY_TIMEOUT_MS): Promise<unknown> {
  if (basename(smiPath) !== 'nvidia-smi' && basename(smiPath) !== 'nvidia-smi.exe') {
    return Promise.reject(new Error(`the inventory needs the binary to be named nvidia-smi (node-nvidia-smi runs it by name); ${smiPath} is not`));
  }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`nvidia-smi -q -x gave no answer in ${timeoutMs / 1000} s`)), timeoutMs);
    const savedPath = process.env.PATH;
    process.env.PATH = `${dirname(resolvePath(smiPath))}${delimiter}${env.PATH ?? ''}`;
    try {
      nvidiaSmi((error, data) => {
        clearTimeout(timer);
        if (error) reject(new Error(smiErrorText(error)));
        else resolve(data);
      });
    } catch (e) {
      clearTimeout(timer);
      reject(e instanceof Error ? e : new Error(String(e)));
    } finally {
      if (savedPath === undefined) delete process.env.PATH;
      else process.env.PATH = savedPath;
    }
  });
}

/** node-nvidia-smi fails with an exec error, a stderr string, or an xml2js error; say which in one line. */
function smiErrorText(error: unknown): string {
  if (typeof error === 'string') return `nvidia-smi -q -x wrote to stderr: ${error.trim().split('\n')[0] ?? ''}`;
  if (error instanceof Error) {
    const e = error as Error & { code?: unknown; signal?: unknown };
    if (typeof e.code === 'number' || typeof e.signal === 'string') {
      const output = e.message.split('\n').slice(1).join('\n');
      return `nvidia-smi -q -x failed: ${classifySmiExit(typeof e.code === 'number' ? e.code : null, typeof e.signal === 'string' ? e.signal : null, output).message}`;
    }
    return `nvidia-smi -q -x gave output that is not XML (${e.message.split('\n')[0]})`;
  }
  return `nvidia-smi -q -x failed (${String(error)})`;
}

export async function readInventory(smiPath: string, env?: NodeJS.ProcessEnv, now: () => number = Date.now): Promise<Inventory> {
  const data = await runNodeNvidiaSmi(smiPath, env);
  return inventoryFromSmiXml(data, now());
}
