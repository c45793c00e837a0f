/** How the nvidia-smi loop is started. */
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/**
 * nvidia-smi writes to a pipe through C stdio, which may hold lines back in a 4 KiB buffer; `stdbuf -oL`
 * (coreutils) makes it line-buffered, so each row arrives when printed. Used when present (Linux). Measured on
 * an H200 (driver 580.159.04): rows arrived 100.2 ms apart (p50) through a plain pipe as well, so this is a
 * guard for drivers that buffer, not a need there.
 */
export function lineBufferedCommand(smiPath: string, args: string[], env: NodeJS.ProcessEnv): [string, string[]] {
  if (process.platform !== 'linux') return [smiPath, args];
  const stdbuf = (env.PATH ?? '').split(delimiter).filter(Boolean).map((d) => join(d, 'stdbuf')).find((p) => existsSync(p));
  return stdbuf ? [stdbuf, ['-oL', smiPath, ...args]] : [smiPath, args];
}
