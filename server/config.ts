/**
 * The agent's configuration: flag > environment (HEADROOM_*) > default, validated once at startup into a
 * frozen, typed Config. Unknown flags and impossible values are rejected with a message that says what to do.
 */
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';

export const DEFAULT_PORT = 8077;
export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_INTERVAL_MS = 100;
export const MIN_INTERVAL_MS = 20;
/** The recorded real H200 session shipped with Headroom, replayed when no GPU is present. */
export const BUNDLED_REPLAY = new URL('./recordings/h200-serving.jsonl', import.meta.url);

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export const HELP = `headroom: a live GPU memory dashboard (predicted budgets against measured usage)

Usage: headroom [options]
       headroom estimate --help        predict memory for a model and runtime
       headroom alert-rules            print Prometheus alerting rules for the configured thresholds

Source:
  --source auto|replay|live   auto (default): live when nvidia-smi is on PATH, else replay
  --replay <file>             recording to replay (default: the bundled real H200 serving session)
  --replay-speed <x>          replay speed factor (default 1 = real time)
  --nvidia-smi <path>         nvidia-smi binary (default: found on PATH)
  --interval-ms <ms>          GPU sampling interval for the live stream (default ${DEFAULT_INTERVAL_MS})
  --record <file>             append the live session to a recording (JSON lines)

PyTorch:
  --torch-log <path>          a PyTorch memory log (file or directory) to follow; repeatable
  --torch-trace-dir <dir>     a tensorboard_trace_handler directory to watch for profiler traces
  --from-start                read existing log content instead of starting at the end

Prediction and alerts:
  --model <id|config.json|dir|gguf>  model the prediction uses (catalog id, config file, model folder, GGUF)
  --config <file>             alert and threshold settings (JSON)
  --webhook <url>             POST alerts to this URL; repeatable
  --alert-log <file>          keep alert history in this file (JSON lines; default: beside --record, else memory only)

Server:
  --port <n>                  HTTP port (default ${DEFAULT_PORT}; 0 picks a free one)
  --host <addr>               bind address (default ${DEFAULT_HOST}); any other needs --token
  --token <secret>            access token (also HEADROOM_TOKEN); required when --host is not loopback
  -h, --help                  show this help

Environment: HEADROOM_PORT, HEADROOM_HOST, HEADROOM_TOKEN, HEADROOM_INTERVAL_MS, HEADROOM_SOURCE.`;

const ConfigSchema = z
  .object({
    source: z.enum(['auto', 'replay', 'live'], { error: () => 'must be auto, replay or live' }),
    replayFile: z.string().min(1),
    replaySpeed: z.number({ error: () => 'must be a number' }).positive('must be above 0').max(1000, 'must be at most 1000'),
    nvidiaSmi: z.string().min(1).nullable(),
    intervalMs: z.number({ error: () => 'must be a number' }).int('must be a whole number of milliseconds').min(MIN_INTERVAL_MS, `must be at least ${MIN_INTERVAL_MS} ms`).max(60_000, 'must be at most 60000 ms'),
    recordFile: z.string().min(1).nullable(),
    torchLogs: z.array(z.string().min(1)),
    torchTraceDir: z.string().min(1).nullable(),
    fromStart: z.boolean(),
    model: z.string().min(1).nullable(),
    configFile: z.string().min(1).nullable(),
    webhooks: z.array(z.url({ protocol: /^https?$/, error: () => 'must be an http(s) URL' })),
    alertLogFile: z.string().min(1).nullable(),
    port: z.number({ error: () => 'must be a number' }).int('must be a whole number').min(0, 'must be 0–65535').max(65535, 'must be 0–65535'),
    host: z.string().min(1),
    token: z.string().min(8, 'must be at least 8 characters').nullable(),
  })
  .refine((c) => isLoopback(c.host) || c.token !== null, {
    message: 'binding to a non-loopback address needs an access token: pass --token <secret> or set HEADROOM_TOKEN',
    path: ['host'],
  });

export type Config = Readonly<z.infer<typeof ConfigSchema>>;

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

export type ParsedCli = { help: true } | { help: false; config: Config };

const FLAG_OF: Record<string, string> = {
  replayFile: '--replay', replaySpeed: '--replay-speed', nvidiaSmi: '--nvidia-smi', intervalMs: '--interval-ms',
  recordFile: '--record', torchLogs: '--torch-log', torchTraceDir: '--torch-trace-dir', fromStart: '--from-start',
  configFile: '--config', webhooks: '--webhook', alertLogFile: '--alert-log',
};

function num(v: string | undefined): number | undefined {
  return v === undefined ? undefined : v.trim() === '' ? Number.NaN : Number(v);
}

/** Parse argv (without node and script) and the environment. Throws ConfigError with a usable message. */
export function parseCli(argv: string[], env: NodeJS.ProcessEnv = process.env): ParsedCli {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        source: { type: 'string' },
        replay: { type: 'string' },
        'replay-speed': { type: 'string' },
        'nvidia-smi': { type: 'string' },
        'interval-ms': { type: 'string' },
        record: { type: 'string' },
        'torch-log': { type: 'string', multiple: true },
        'torch-trace-dir': { type: 'string' },
        'from-start': { type: 'boolean' },
        model: { type: 'string' },
        config: { type: 'string' },
        webhook: { type: 'string', multiple: true },
        'alert-log': { type: 'string' },
        port: { type: 'string' },
        host: { type: 'string' },
        token: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    throw new ConfigError(`${(e as Error).message.split('\n')[0]}. Run headroom --help for the options.`);
  }
  if (values.help) return { help: true };

  const raw = {
    source: values.source ?? env.HEADROOM_SOURCE ?? 'auto',
    replayFile: values.replay ?? decodeURIComponent(BUNDLED_REPLAY.pathname),
    replaySpeed: num(values['replay-speed']) ?? 1,
    nvidiaSmi: values['nvidia-smi'] ?? null,
    intervalMs: num(values['interval-ms']) ?? num(env.HEADROOM_INTERVAL_MS) ?? DEFAULT_INTERVAL_MS,
    recordFile: values.record ?? null,
    torchLogs: values['torch-log'] ?? [],
    torchTraceDir: values['torch-trace-dir'] ?? null,
    fromStart: values['from-start'] ?? false,
    model: values.model ?? null,
    configFile: values.config ?? null,
    webhooks: values.webhook ?? [],
    alertLogFile: values['alert-log'] ?? null,
    port: num(values.port) ?? num(env.HEADROOM_PORT) ?? DEFAULT_PORT,
    host: values.host ?? env.HEADROOM_HOST ?? DEFAULT_HOST,
    token: values.token ?? env.HEADROOM_TOKEN ?? null,
  };
  const parsed = ConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const key = String(issue?.path[0] ?? '');
    const flag = FLAG_OF[key] ?? `--${key}`;
    throw new ConfigError(`${flag}: ${issue?.message ?? 'invalid value'}. Run headroom --help for the options.`);
  }
  return { help: false, config: Object.freeze(parsed.data) };
}

/** The nvidia-smi to use: the given path, or the first on PATH; null when there is none. */
export function findNvidiaSmi(explicit: string | null, env: NodeJS.ProcessEnv = process.env): string | null {
  if (explicit) return existsSync(explicit) ? explicit : null;
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, process.platform === 'win32' ? 'nvidia-smi.exe' : 'nvidia-smi');
    if (existsSync(candidate)) return candidate;
  }
  return null;
}
