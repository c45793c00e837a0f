import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../server/config.ts';
import { loadAlertSettings, parseAlertConfig } from '../../../server/alerts/settings.ts';

const dir = mkdtempSync(join(tmpdir(), 'headroom-alert-settings-'));
function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}
const base = { configFile: null, webhooks: [], alertLogFile: null, recordFile: null };

describe('alert settings', () => {
  it('has sensible defaults with no config file', () => {
    const { config, logPath } = loadAlertSettings(base);
    expect(config.headroom.warning).toEqual({ freeBelowGiB: null, freeBelowPercent: 10, forMs: 10_000 });
    expect(config.headroom.critical).toEqual({ freeBelowGiB: null, freeBelowPercent: 5, forMs: 2_000 });
    expect(config.forecast.timeToOomBelowMs).toBe(60_000);
    expect(config.drift.abovePercent).toBe(25);
    expect(config.webhooks).toEqual([]);
    expect(logPath).toBeNull(); // without --record, --alert-log or the config's alertLog: memory only, no surprise files
  });

  it('reads the alerts section, merges --webhook flags, and picks the Slack payload for Slack URLs', () => {
    const configFile = file('ok.json', JSON.stringify({ model: 'ignored by alerts', alerts: { headroom: { critical: { freeBelowGiB: 4, forMs: 500 } }, webhooks: [{ url: 'http://127.0.0.1:9/a', timeoutMs: 1000 }], alertLog: 'logs/alerts.jsonl' } }));
    const { config, logPath } = loadAlertSettings({ ...base, configFile, webhooks: ['http://127.0.0.1:9/a', 'https://hooks.slack.com/services/T/B/x'] });
    expect(config.headroom.critical).toEqual({ freeBelowGiB: 4, freeBelowPercent: null, forMs: 500 });
    expect(config.headroom.warning.freeBelowPercent).toBe(10);
    expect(config.webhooks.map((w) => [w.url, w.format, w.timeoutMs])).toEqual([
      ['http://127.0.0.1:9/a', 'json', 1000],
      ['https://hooks.slack.com/services/T/B/x', 'slack', 5000],
    ]);
    expect(logPath).toBe(join(dir, 'logs/alerts.jsonl'));
  });

  it('answers bad settings with the key path and what is allowed', () => {
    const bad = (alerts: unknown): string => {
      try {
        parseAlertConfig({ alerts }, '--config x.json');
        return 'no error';
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        return (e as Error).message;
      }
    };
    expect(bad({ headroom: { warning: { freeBelowPercent: 120, forMs: 0 } } })).toMatch(/^--config x\.json: alerts\.headroom\.warning\.freeBelowPercent: must be 0–100\. Fix the file/);
    expect(bad({ headroom: { critical: { forMs: 100 } } })).toMatch(/alerts\.headroom\.critical: set freeBelowGiB or freeBelowPercent/);
    expect(bad({ forecast: { timeToOom: 5 } })).toMatch(/alerts\.forecast: Unrecognized key: "timeToOom" \(known keys: enabled, timeToOomBelowMs,/);
    expect(bad({ webhooks: [{ url: 'ftp://x' }] })).toMatch(/alerts\.webhooks\.0\.url: must be an http\(s\) URL/);
  });

  it('says what is wrong with an unreadable or non-JSON file', () => {
    expect(() => loadAlertSettings({ ...base, configFile: join(dir, 'missing.json') })).toThrow(/--config .*missing\.json: cannot read it \(ENOENT\)/);
    expect(() => loadAlertSettings({ ...base, configFile: file('bad.json', '{ alerts: ') })).toThrow(/not valid JSON .*the file is a JSON object such as/);
  });

  it('puts the alert log where --alert-log says, else beside --record', () => {
    expect(loadAlertSettings({ ...base, recordFile: '/data/run1.jsonl' }).logPath).toBe('/data/run1.alerts.jsonl');
    expect(loadAlertSettings({ ...base, alertLogFile: '/x/a.jsonl', recordFile: '/data/r.jsonl' }).logPath).toBe('/x/a.jsonl');
  });
});
