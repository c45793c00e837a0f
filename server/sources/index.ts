/** Picks the agent's GPU source from the configuration: `auto` is live when nvidia-smi is found, else replay. */
import { basename } from 'node:path';
import { ConfigError, findNvidiaSmi, type Config } from '../config.ts';
import { LiveSource } from './live/liveSource.ts';
import { ReplaySource } from './replay.ts';
import type { GpuSource } from './types.ts';

export function createSource(config: Config, env: NodeJS.ProcessEnv = process.env): GpuSource {
  const smi = config.source === 'replay' ? null : findNvidiaSmi(config.nvidiaSmi, env);
  if (config.source === 'live' || (config.source === 'auto' && smi)) {
    if (!smi) {
      throw new ConfigError(
        config.nvidiaSmi
          ? `--nvidia-smi ${config.nvidiaSmi}: no such file; pass the path of the nvidia-smi binary`
          : 'nvidia-smi not found on PATH; install the NVIDIA driver, pass --nvidia-smi <path>, or use --source replay',
      );
    }
    return new LiveSource({ smiPath: smi, intervalMs: config.intervalMs, env });
  }
  if (config.source === 'auto' && config.nvidiaSmi) {
    throw new ConfigError(`--nvidia-smi ${config.nvidiaSmi}: no such file; pass the path of the nvidia-smi binary, or drop it to replay`);
  }
  return new ReplaySource({ file: config.replayFile, fileName: basename(config.replayFile), speed: config.replaySpeed });
}
