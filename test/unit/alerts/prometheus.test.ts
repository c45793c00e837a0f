/**
 * `headroom alert-rules`: the generated Prometheus rules must pass `promtool check rules`, and behave as the
 * agent does on a synthetic series (`promtool test rules`): hold, hysteresis, resolve. promtool comes from
 * Debian's `prometheus` package; CI installs it (`apt-get install -y --no-install-recommends prometheus`),
 * and under CI=true a missing promtool fails the test instead of skipping it.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { alertRules, alertRulesYaml } from '../../../server/alerts/prometheus.ts';
import { ROOT } from '../../support/paths.ts';
import { config } from './synth.ts';

const promtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' }).status === 0;
const inCi = process.env.CI === 'true' || process.env.CI === '1';
if (!promtool && !inCi) console.warn('promtool not found: skipping the Prometheus rule checks (apt-get install prometheus to run them)');

function promtoolRun(args: string[]): { status: number | null; out: string } {
  const r = spawnSync('promtool', args, { encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('Prometheus alerting rules', () => {
  it('names the dcgm-exporter metrics for device memory and headroom_* for the rest', () => {
    const rules = alertRules(config()).groups.flatMap((g) => g.rules);
    expect(rules.map((r) => r.alert)).toEqual([
      'HeadroomGpuFreeMemoryLow', 'HeadroomGpuFreeMemoryLow', 'HeadroomGpuOutOfMemorySoon', 'HeadroomTimeToOomLow',
      'HeadroomTorchFragmentation', 'HeadroomTorchOutOfMemory', 'HeadroomPredictionDrift', 'HeadroomGpuLost', 'HeadroomSourceStale',
    ]);
    const [warning, critical] = rules;
    expect(warning!.expr).toContain('DCGM_FI_DEV_FB_FREE < (DCGM_FI_DEV_FB_FREE + DCGM_FI_DEV_FB_USED + DCGM_FI_DEV_FB_RESERVED) * 0.1');
    expect(warning!.for).toBe('10s');
    expect(critical!.for).toBe('2s');
    const custom = alertRules(config({ headroom: { critical: { freeBelowGiB: 4, freeBelowPercent: null, forMs: 30_000 } } })).groups[0]!.rules[1]!;
    expect(custom.expr).toMatch(/^\(\(DCGM_FI_DEV_FB_FREE < 4096\)\) or /);
    expect(custom.for).toBe('30s');
  });

  it.skipIf(!promtool && !inCi)('passes promtool check rules, from the CLI as a user runs it', () => {
    expect(promtool, 'promtool is missing: install Debian\'s prometheus package (apt-get install -y --no-install-recommends prometheus)').toBe(true);
    const dir = mkdtempSync(join(tmpdir(), 'headroom-rules-'));
    const cfg = join(dir, 'headroom.json');
    writeFileSync(cfg, JSON.stringify({ alerts: { headroom: { critical: { freeBelowGiB: 2, freeBelowPercent: 3, forMs: 1000 } }, forecast: { timeToOomBelowMs: 120_000 } } }));
    const yaml = execFileSync(process.execPath, ['--import', 'tsx', join(ROOT, 'server/main.ts'), 'alert-rules', '--config', cfg], { encoding: 'utf8' });
    writeFileSync(join(dir, 'rules.yml'), yaml);
    const r = promtoolRun(['check', 'rules', join(dir, 'rules.yml')]);
    expect(r.out).toContain('SUCCESS: 9 rules found');
    expect(r.status).toBe(0);
  });

  it.skipIf(!promtool && !inCi)('fires after the hold, keeps firing inside the hysteresis band, and resolves above it (promtool test rules)', () => {
    expect(promtool, 'promtool is missing: install Debian\'s prometheus package').toBe(true);
    const dir = mkdtempSync(join(tmpdir(), 'headroom-rules-'));
    writeFileSync(join(dir, 'rules.yml'), alertRulesYaml(config()));
    // 80 GiB GPU (81920 MiB): free 50 % for 6 s, 7.3 % for 20 s (warning, held 10 s), 10.5 % for 10 s (above
    // 10 % but inside the 2 % band: still firing), then 24 %.
    const labels = 'gpu="0",UUID="GPU-x"';
    const free = [40960, 6000, 8600, 20000];
    const counts = [5, 20, 10, 10];
    const series = (f: (free: number) => number): string => free.map((v, i) => `${f(v)}x${counts[i]}`).join(' ');
    const expected = (freeMiB: number) => [{
      exp_labels: { severity: 'warning', rule: 'headroom', gpu: '0', UUID: 'GPU-x' },
      exp_annotations: { summary: 'GPU 0 (GPU-x): free memory low', description: `${freeMiB} MiB free; warning below 10 %, cleared above the warning threshold + 2 % of total.` },
    }];
    const test = {
      rule_files: ['rules.yml'],
      evaluation_interval: '1s',
      tests: [{
        interval: '1s',
        input_series: [
          { series: `DCGM_FI_DEV_FB_FREE{${labels}}`, values: series((v) => v) },
          { series: `DCGM_FI_DEV_FB_USED{${labels}}`, values: series((v) => 81920 - 512 - v) },
          { series: `DCGM_FI_DEV_FB_RESERVED{${labels}}`, values: '512x50' },
        ],
        alert_rule_test: [
          { eval_time: '12s', alertname: 'HeadroomGpuFreeMemoryLow', exp_alerts: [] },
          { eval_time: '20s', alertname: 'HeadroomGpuFreeMemoryLow', exp_alerts: expected(6000) },
          { eval_time: '33s', alertname: 'HeadroomGpuFreeMemoryLow', exp_alerts: expected(8600) },
          { eval_time: '40s', alertname: 'HeadroomGpuFreeMemoryLow', exp_alerts: [] },
        ],
      }],
    };
    writeFileSync(join(dir, 'test.yml'), stringify(test));
    const r = promtoolRun(['test', 'rules', join(dir, 'test.yml')]);
    expect(r.out).toContain('SUCCESS');
    expect(r.status).toBe(0);
  });

  it.skipIf(!promtool && !inCi)('forecasts an OOM from the growth of the used-memory envelope (promtool test rules)', () => {
    expect(promtool, 'promtool is missing: install Debian\'s prometheus package').toBe(true);
    const dir = mkdtempSync(join(tmpdir(), 'headroom-rules-'));
    writeFileSync(join(dir, 'rules.yml'), alertRulesYaml(config()));
    // 15 s scrapes; used grows 100 MiB/s from 20000 MiB of 81920: under 60 s to go (less the 512 MiB margin)
    // from 9 min 15 s, held 5 s; at 5 min there are minutes left.
    const labels = 'gpu="0",UUID="GPU-x"';
    const test = {
      rule_files: ['rules.yml'],
      evaluation_interval: '15s',
      tests: [{
        interval: '15s',
        input_series: [
          { series: `DCGM_FI_DEV_FB_USED{${labels}}`, values: '20000+1500x40' },
          { series: `DCGM_FI_DEV_FB_FREE{${labels}}`, values: '61408-1500x40' },
          { series: `DCGM_FI_DEV_FB_RESERVED{${labels}}`, values: '512x40' },
        ],
        alert_rule_test: [
          { eval_time: '5m', alertname: 'HeadroomGpuOutOfMemorySoon', exp_alerts: [] },
          {
            eval_time: '9m45s',
            alertname: 'HeadroomGpuOutOfMemorySoon',
            exp_alerts: [{
              exp_labels: { severity: 'critical', rule: 'forecast', gpu: '0', UUID: 'GPU-x' },
              exp_annotations: {
                summary: 'GPU 0 (GPU-x): out of memory soon at the current growth',
                // (2908 MiB free − 512 MiB margin) ÷ 100 MiB/s
                description: 'About 23.96s to OOM from the growth of the used-memory envelope (max per 15s, over 120s).',
              },
            }],
          },
        ],
      }],
    };
    writeFileSync(join(dir, 'test.yml'), stringify(test));
    const r = promtoolRun(['test', 'rules', join(dir, 'test.yml')]);
    expect(r.out).toContain('SUCCESS');
    expect(r.status).toBe(0);
  });
});
