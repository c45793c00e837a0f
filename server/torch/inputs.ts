/**
 * The agent's PyTorch inputs from the configuration: `--torch-log` (files or folders, followed like
 * `tail -F`) and `--torch-trace-dir` (profiler traces), both feeding the hub. Start never throws for a
 * missing path: it is waited for.
 */
import type { Config } from '../config.ts';
import type { Hub } from '../hub.ts';
import { createLogger } from '../log.ts';
import { TorchLogFollower } from './logFollower.ts';
import { TraceWatcher } from './traceWatcher.ts';

const log = createLogger('torch');

export interface TorchInputs {
  logs: TorchLogFollower | null;
  traces: TraceWatcher | null;
  stop(): Promise<void>;
}

export async function startTorchInputs(config: Pick<Config, 'torchLogs' | 'torchTraceDir' | 'fromStart'>, hub: Hub): Promise<TorchInputs> {
  const logs = config.torchLogs.length > 0 ? new TorchLogFollower({ paths: config.torchLogs, fromStart: config.fromStart, sink: hub }) : null;
  const traces = config.torchTraceDir ? new TraceWatcher({ dir: config.torchTraceDir, fromStart: config.fromStart, sink: hub }) : null;
  await logs?.start();
  await traces?.start();
  if (logs) log.info(`following PyTorch memory logs: ${config.torchLogs.join(', ')}${config.fromStart ? ' (from the start)' : ''}`);
  if (traces) log.info(`watching ${config.torchTraceDir} for profiler traces`);
  return {
    logs,
    traces,
    async stop() {
      await Promise.all([logs?.stop(), traces?.stop()]);
    },
  };
}
