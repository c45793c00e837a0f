/**
 * The overlay dashboard in real Chromium against the agent replaying the recorded real H200 session (8× speed):
 * the predicted bands appear (from the model the PyTorch hook reported), the measured PyTorch line rises into
 * the KV band during requests, the OOM marker lands at the recorded time, the what-if slider moves the
 * predicted total to the estimator's value, and export downloads files. Screenshots for each step.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../server/agent.ts';
import { readRecording } from '../../server/recording/reader.ts';
import type { DataRecord } from '../../shared/data.ts';
import { estimate, findModel } from '../../shared/estimator/index.ts';
import { connectClient, startTestAgent, waitForEvents } from '../support/agent.ts';
import { launchChromium, screenshotPath } from '../support/browser.ts';
import { BUNDLED_RECORDING } from '../support/paths.ts';

const SPEED = 8;

interface LegendValues {
  [key: string]: { from: number | null; to: number | null; value: number | null };
}

async function legend(page: Page): Promise<LegendValues> {
  return page.$$eval('[data-testid="gpu-detail"] [data-testid="legend-item"]', (els) => {
    const num = (s: string | undefined): number | null => (s === undefined || s === '' ? null : Number(s));
    return Object.fromEntries(els.map((e) => [e.getAttribute('data-key') ?? '', { from: num(e.getAttribute('data-from-bytes') ?? undefined), to: num(e.getAttribute('data-to-bytes') ?? undefined), value: num(e.getAttribute('data-value-bytes') ?? undefined) }]));
  });
}

describe('overlay dashboard on the replayed real session', () => {
  let agent: Agent;
  let browser: Browser;
  let page: Page;
  let records: DataRecord[];
  const errors: string[] = [];

  beforeAll(async () => {
    records = (await readRecording(BUNDLED_RECORDING)).records;
    agent = await startTestAgent(['--source', 'replay', '--replay-speed', String(SPEED)]);
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1600, height: 1000 }, acceptDownloads: true });
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(agent.url);
  });
  afterAll(async () => {
    await browser?.close();
    await agent?.close();
  });

  it('draws the predicted bands for the model the PyTorch hook reported', async () => {
    await page.locator('[data-testid="gpu-detail"]').waitFor();
    await page.waitForFunction(() => Number(document.querySelector('[data-testid="gpu-detail"] [data-key="band:weights"]')?.getAttribute('data-to-bytes')) > 0, null, { timeout: 30_000 });
    await expect(page.locator('[data-testid="model-name"]').textContent()).resolves.toBe('llama-3-8b');
    await expect(page.locator('[data-testid="model-source"]').getAttribute('data-source')).resolves.toBe('hook');
    const l = await legend(page);
    // The weights band is the hook's exact weight bytes (bf16, as reported), from 0.
    expect(l['band:weights']).toMatchObject({ from: 0, to: 16_060_522_496 });
    for (const k of ['kvNow', 'kvToMax', 'activation', 'overhead']) expect(l[`band:${k}`]?.to).toBeGreaterThanOrEqual(l[`band:${k}`]?.from ?? 0);
    // The chart holds the 5 bands, the nvidia-smi line and the PyTorch lines of the serving process.
    const datasets = Number(await page.locator('[data-testid="gpu-detail"] [data-testid="used-chart"]').getAttribute('data-datasets'));
    expect(datasets).toBeGreaterThanOrEqual(8);
    await page.screenshot({ path: screenshotPath('dashboard-1-bands'), fullPage: true });
  });

  it('shows PyTorch allocated rising above the weights into the KV band during a request', async () => {
    const inKv = await page.waitForFunction(
      () => {
        const get = (k: string, a: string): number => Number(document.querySelector(`[data-testid="gpu-detail"] [data-key="${k}"]`)?.getAttribute(a));
        const alloc = get('alloc:423', 'data-value-bytes');
        const weightsTop = get('band:weights', 'data-to-bytes');
        const kvFrom = get('band:kvNow', 'data-from-bytes');
        const kvTo = get('band:kvNow', 'data-to-bytes');
        const kvMaxTop = get('band:kvToMax', 'data-to-bytes');
        // A request is in flight (its KV band has height) and the measured line sits in the KV bands.
        return kvTo > kvFrom && alloc > weightsTop && alloc <= Math.max(kvTo, kvMaxTop) ? { alloc, weightsTop, kvFrom, kvTo, kvMaxTop } : null;
      },
      null,
      { timeout: 60_000, polling: 100 },
    );
    const v = (await inKv.jsonValue()) as { alloc: number; weightsTop: number };
    expect(v.alloc).toBeGreaterThan(v.weightsTop);
    await page.screenshot({ path: screenshotPath('dashboard-2-kv-band'), fullPage: true });
  });

  it('follows the newest minute when the window is set to 1 min, and the whole history with "all"', async () => {
    const detail = page.locator('[data-testid="gpu-detail"]');
    const canvas = detail.locator('[data-testid="used-chart"]');
    const span = async (): Promise<number> => Number(await canvas.getAttribute('data-x-max-ms')) - Number(await canvas.getAttribute('data-x-min-ms'));
    await detail.getByRole('button', { name: '1 min', exact: true }).click();
    await page.waitForFunction(() => {
      const c = document.querySelector('[data-testid="gpu-detail"] [data-testid="used-chart"]');
      return Number(c?.getAttribute('data-x-max-ms')) - Number(c?.getAttribute('data-x-min-ms')) === 60_000;
    });
    expect(await span()).toBe(60_000);
    await detail.getByRole('button', { name: 'all', exact: true }).click();
    await page.waitForFunction(() => {
      const c = document.querySelector('[data-testid="gpu-detail"] [data-testid="used-chart"]');
      return Number(c?.getAttribute('data-x-max-ms')) - Number(c?.getAttribute('data-x-min-ms')) > 60_000;
    });
    await detail.getByRole('button', { name: '5 min', exact: true }).click();
  });

  it('puts the OOM marker at the recorded time of the OOM', async () => {
    const marker = page.locator('[data-testid="marker"][data-kind="oom"]').first();
    await marker.waitFor({ timeout: 60_000 });
    const shownAt = Number(await marker.getAttribute('data-at-ms'));
    const recordedOom = records.find((r) => r.kind === 'torchEvent' && r.event.kind === 'oom');
    // Emitted times are recorded times plus the replay's offset (SourceState.replay.offsetMs).
    const client = connectClient(agent);
    const [snapshot] = await waitForEvents(client, 'snapshot');
    client.close();
    const offsetMs = snapshot?.source.replay?.offsetMs ?? Number.NaN;
    expect(shownAt - offsetMs).toBe(recordedOom?.t);
    await page.locator('[data-testid="gpu-detail"]').screenshot({ path: screenshotPath('dashboard-3-oom') });
    // The README picture: the whole page after the OOM (fleet card, alerts, overlay chart, Now bar, what-if).
    await page.setViewportSize({ width: 1600, height: 1760 });
    await page.evaluate(() => {
      (document.activeElement as HTMLElement | null)?.blur();
      window.scrollTo(0, 0);
    });
    await page.waitForTimeout(400); // the charts redraw at the new size
    await page.screenshot({ path: screenshotPath('overlay') });
    await page.setViewportSize({ width: 1600, height: 1000 });
  });

  it('moves the predicted total to the estimator’s value when the batch slider moves', async () => {
    const batchInput = page.locator('[data-testid="whatif-batch"]');
    await batchInput.fill('48');
    await batchInput.press('Enter');
    await page.locator('[data-testid="whatif-batch-slider"]').focus();
    await page.keyboard.press('ArrowRight'); // keyboard on the slider: 48 → 49
    await expect(batchInput.inputValue()).resolves.toBe('49');
    const prompt = Number(await page.locator('[data-testid="whatif-promptTokens"]').inputValue());
    const newTokens = Number(await page.locator('[data-testid="whatif-newTokens"]').inputValue());
    const shown = Number(await page.locator('[data-testid="whatif-total"]').getAttribute('data-bytes'));
    const model = findModel('llama-3-8b');
    if (!model) throw new Error('llama-3-8b missing from the catalog');
    const e = estimate({ model, weightsBytesExact: 16_060_522_496, dtype: 'bf16', weightScheme: 'bf16', kvDtype: 'bf16', batch: 49, promptTokens: prompt, newTokens, tp: 1 });
    expect(shown).toBe(Math.max(e.deviceUsedBytes, e.deviceUsedAfterDecodeBytes)); // the most over prefill and decode
    await page.locator('[data-testid="gpu-detail"]').screenshot({ path: screenshotPath('dashboard-4-whatif') });
  });

  it('exports the visible window as PNG and the history as CSV and JSON', async () => {
    const [png] = await Promise.all([page.waitForEvent('download'), page.locator('[data-testid="export-png"]').click()]);
    expect(png.suggestedFilename()).toMatch(/^headroom-gpu0-\d{8}-\d{6}\.png$/);
    const pngBytes = await readFile((await png.path()) ?? '');
    expect(pngBytes.subarray(1, 4).toString('latin1')).toBe('PNG');
    await png.saveAs(screenshotPath('dashboard-5-export-png'));

    const [csv] = await Promise.all([page.waitForEvent('download'), page.locator('[data-testid="export-csv"]').click()]);
    const csvText = await readFile((await csv.path()) ?? '', 'utf8');
    const lines = csvText.trim().split('\n');
    expect(lines[0]).toBe('timestamp_iso,timestamp_ms,gpu_index,gpu_uuid,series,pid,bytes');
    expect(lines.some((l) => l.includes(',used_nvidia_smi,,'))).toBe(true);
    expect(lines.some((l) => l.includes(',torch_allocated,423,'))).toBe(true);

    const [json] = await Promise.all([page.waitForEvent('download'), page.locator('[data-testid="export-json"]').click()]);
    const body = JSON.parse(await readFile((await json.path()) ?? '', 'utf8')) as { format: string; gpus: { used: [number, number][] }[]; events: unknown[] };
    expect(body.format).toBe('headroom-history');
    expect(body.gpus[0]?.used.length).toBeGreaterThan(10);
    expect(body.events.length).toBeGreaterThan(10);
    expect(errors).toEqual([]);
  });

  it('predicts for the model given to the agent with --model, at the configured maximum of its --config', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'headroom-dash-'));
    const configFile = join(dir, 'alerts.json');
    await writeFile(configFile, JSON.stringify({ alerts: { forecast: { maxBatch: 8, maxSeqLen: 8192 } } }));
    const withModel = await startTestAgent(['--source', 'replay', '--replay-speed', String(SPEED), '--model', 'qwen2.5-7b', '--config', configFile]);
    const p = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
    try {
      await p.goto(withModel.url);
      await p.locator('[data-testid="model-source"][data-source="agent"]').waitFor({ timeout: 30_000 });
      await expect(p.locator('[data-testid="model-name"]').textContent()).resolves.toBe('Qwen2.5-7B');
      // The what-if starts at the engine's configured maximum: 8 sequences × 8192 tokens.
      await expect(p.locator('[data-testid="whatif-batch"]').inputValue()).resolves.toBe('8');
      await expect(p.locator('[data-testid="whatif-promptTokens"]').inputValue()).resolves.toBe('8192');
      const kv = Number(await p.locator('[data-testid="whatif-kv"]').getAttribute('data-bytes'));
      expect(kv).toBe(8 * 8192 * 57_344); // Qwen2.5-7B: 57,344 B of KV per token in bf16
      await p.screenshot({ path: screenshotPath('dashboard-6-agent-model'), fullPage: true });
    } finally {
      await p.close();
      await withModel.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
