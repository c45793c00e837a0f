/** `headroom alert-rules [--config <file>]`: print Prometheus alerting rules for the configured thresholds. */
import { parseArgs } from 'node:util';
import { ConfigError } from '../config.ts';
import { alertRulesYaml } from './prometheus.ts';
import { readAlertConfigFile } from './settings.ts';
import { AlertConfigSchema } from '../../shared/alerts.ts';

export const ALERT_RULES_HELP = `headroom alert-rules: print Prometheus alerting rules for Headroom's alert thresholds (YAML on stdout)

Usage: headroom alert-rules [--config <file>] > rules.yml && promtool check rules rules.yml

  --config <file>   the agent's JSON config; its "alerts" section sets the thresholds (defaults otherwise)
  -h, --help        show this help

Config ("alerts" section, every key optional):
  headroom:      { warning: {freeBelowGiB, freeBelowPercent, forMs}, critical: {...}, hysteresisPercent }
  forecast:      { timeToOomBelowMs, clearFactor, windowMs, bucketMs, minGrowthBytesPerSecond, forMs,
                   maxBatch, maxSeqLen, marginGiB }
  drift:         { abovePercent, minExcessGiB }
  fragmentation: { unallocatedAboveGiB, unallocatedAbovePercent, retryWindowMs }
  events:        { oomQuietMs, staleAfterMs }
  renotifyMs, webhooks: [{ url, format: "json"|"slack", timeoutMs, maxAttempts }], alertLog, enabled

The device rules use dcgm-exporter's metric names (DCGM_FI_DEV_FB_FREE, _USED, _RESERVED); the PyTorch,
prediction and source rules use the headroom_* names planned for Headroom's /metrics endpoint.`;

export async function run(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, strict: true, allowPositionals: false, options: { config: { type: 'string' }, help: { type: 'boolean', short: 'h' } } }));
  } catch (e) {
    process.stderr.write(`headroom alert-rules: ${(e as Error).message.split('\n')[0]}. Run headroom alert-rules --help.\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${ALERT_RULES_HELP}\n`);
    return 0;
  }
  try {
    const config = values.config ? readAlertConfigFile(values.config) : AlertConfigSchema.parse({});
    process.stdout.write(alertRulesYaml(config));
    return 0;
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`headroom alert-rules: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
}
