/**
 * Alert settings from `--config <file>` (the `alerts` section of a JSON object, validated with zod) and the
 * flags (`--webhook`, repeatable; `--alert-log`), defaults for everything else. Where the alert log goes:
 * `--alert-log`, else the config's `alertLog` (relative to the config file), else beside `--record`
 * (`<record>.alerts.jsonl`, so a session's alerts travel with its recording). With none of these the agent
 * writes nothing it was not asked to: alerts stay in memory, and the start-up log and the panel say how to
 * keep them.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { AlertConfigSchema, type AlertConfig, type WebhookConfig } from '../../shared/alerts.ts';
import { ConfigError } from '../config.ts';

export const MAX_CONFIG_BYTES = 1024 * 1024;

export interface AlertSettingsInput {
  configFile: string | null;
  webhooks: readonly string[];
  alertLogFile: string | null;
  recordFile: string | null;
}

export interface AlertSettings {
  config: AlertConfig;
  logPath: string | null;
}

const FileSchema = z.looseObject({ alerts: AlertConfigSchema.optional() });

/** Validate an already-parsed config object; errors name the key path and what to do. */
export function parseAlertConfig(json: unknown, where: string): AlertConfig {
  const parsed = FileSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue?.path.join('.') || '(top level)';
    const hint = issue?.code === 'unrecognized_keys' ? ` (known keys: ${knownKeys(issue.path)})` : '';
    throw new ConfigError(`${where}: ${path}: ${issue?.message ?? 'invalid value'}${hint}. Fix the file; see headroom alert-rules --help for the settings.`);
  }
  return parsed.data.alerts ?? AlertConfigSchema.parse({});
}

function knownKeys(path: readonly PropertyKey[]): string {
  let shape: z.ZodType = FileSchema;
  for (const p of path) {
    const inner = unwrap(shape);
    if (inner instanceof z.ZodObject) shape = (inner.shape as Record<string, z.ZodType>)[String(p)] ?? inner;
    else if (inner instanceof z.ZodArray) shape = inner.element as z.ZodType;
  }
  const obj = unwrap(shape);
  return obj instanceof z.ZodObject ? Object.keys(obj.shape).join(', ') : '?';
}

function unwrap(t: z.ZodType): z.ZodType {
  let cur: z.ZodType = t;
  for (let i = 0; i < 8; i++) {
    const def = (cur as unknown as { def: { innerType?: z.ZodType; in?: z.ZodType } }).def;
    const next = def.innerType ?? def.in;
    if (!next) break;
    cur = next;
  }
  return cur;
}

export function readAlertConfigFile(path: string): AlertConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`--config ${path}: cannot read it (${(e as NodeJS.ErrnoException).code ?? String(e)}); pass the path of a JSON file`);
  }
  if (text.length > MAX_CONFIG_BYTES) throw new ConfigError(`--config ${path}: over ${MAX_CONFIG_BYTES} bytes; is this the right file?`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`--config ${path}: not valid JSON (${(e as Error).message}); the file is a JSON object such as {"alerts": {"headroom": {"critical": {"freeBelowGiB": 4, "forMs": 2000}}}}`);
  }
  return parseAlertConfig(json, `--config ${path}`);
}

/** Slack's incoming webhooks get Slack's payload; everything else gets the JSON event. */
export function webhookFromUrl(url: string): WebhookConfig {
  const host = new URL(url).hostname;
  return AlertConfigSchema.shape.webhooks.parse([{ url, format: host === 'hooks.slack.com' ? 'slack' : 'json' }])[0] as WebhookConfig;
}

export function loadAlertSettings(input: AlertSettingsInput): AlertSettings {
  const fromFile = input.configFile ? readAlertConfigFile(input.configFile) : AlertConfigSchema.parse({});
  const known = new Set(fromFile.webhooks.map((w) => w.url));
  const webhooks = [...fromFile.webhooks, ...input.webhooks.filter((u) => !known.has(u)).map(webhookFromUrl)];
  const config: AlertConfig = { ...fromFile, webhooks };

  let logPath: string | null = null;
  if (input.alertLogFile) logPath = resolve(input.alertLogFile);
  else if (fromFile.alertLog && input.configFile) logPath = resolve(dirname(input.configFile), fromFile.alertLog);
  else if (input.recordFile) logPath = resolve(`${input.recordFile.replace(/\.jsonl(\.gz)?$/, '')}.alerts.jsonl`);
  return { config, logPath };
}
