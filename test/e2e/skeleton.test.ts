/** The walking skeleton in real Chromium: the page shows the replayed H200 session and the chart draws it. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import type { Agent } from '../../server/agent.ts';
import { readRecording } from '../../server/recording/reader.ts';
import { formatGiB } from '../../shared/units.ts';
import { launchChromium, screenshotPath } from '../support/browser.ts';
import { startTestAgent } from '../support/agent.ts';
import { BUNDLED_RECORDING } from '../support/paths.ts';

describe('dashboard page on the replayed session', () => {
  let agent: Agent;
  let browser: Browser;

  beforeAll(async () => {
    agent = await startTestAgent(['--source', 'replay']);
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await agent?.close();
  });

  it('shows the replay banner, a GPU card with the replayed numbers and a chart that moves', async () => {
    const recording = await readRecording(BUNDLED_RECORDING);
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(agent.url);

    await page.getByText('Replay of a recorded session on NVIDIA H200 — not live').first().waitFor();
    const card = page.locator('[data-testid="gpu-card"]').first();
    await card.waitFor();
    await expect(card.getAttribute('data-uuid')).resolves.toBe('GPU-ccae4e7e-d1ae-910a-959f-bd978205491d');

    // The chart has drawn points, and more arrive as the replay plays.
    const canvas = card.locator('[data-testid="used-chart"]');
    await page.waitForFunction(() => Number(document.querySelector('[data-testid="used-chart"]')?.getAttribute('data-points')) >= 3);
    const before = Number(await canvas.getAttribute('data-points'));
    await page.waitForFunction((n) => Number(document.querySelector('[data-testid="used-chart"]')?.getAttribute('data-points')) > n, before);

    // The numbers shown are the recording's: total is the H200's 143771 MiB, and used is a recorded value.
    const gpu0 = recording.records.find((r) => r.kind === 'gpu');
    expect(await card.locator('[data-testid="total"]').textContent()).toBe(formatGiB(gpu0?.kind === 'gpu' ? gpu0.gpus[0]!.totalBytes : null));
    const shownUsed = await card.locator('[data-testid="used"]').textContent();
    const recordedUsed = new Set(recording.records.flatMap((r) => (r.kind === 'gpu' ? [formatGiB(r.gpus[0]!.usedBytes)] : [])));
    expect(recordedUsed.has(shownUsed ?? '')).toBe(true);

    // The canvas really has ink on it (not a blank chart).
    const inked = await canvas.evaluate((c: HTMLCanvasElement) => {
      const ctx = c.getContext('2d');
      if (!ctx) return 0;
      const { data } = ctx.getImageData(0, 0, c.width, c.height);
      let n = 0;
      for (let i = 3; i < data.length; i += 4) if ((data[i] ?? 0) > 0) n++;
      return n;
    });
    expect(inked).toBeGreaterThan(1000);

    await page.screenshot({ path: screenshotPath('skeleton'), fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  });

  it('draws the serving load as it replays (screenshot for the README)', async () => {
    const fast = await startTestAgent(['--source', 'replay', '--replay-speed', '8']);
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 760 } });
      await page.goto(fast.url);
      // Wait until the replay has reached the serving phase: more than 30 GiB used on the card.
      await page.waitForFunction(() => Number.parseFloat(document.querySelector('[data-testid="used"]')?.textContent ?? '0') > 30, null, { timeout: 30_000 });
      await page.waitForTimeout(300); // let the chart paint the newest tick before the picture
      await page.screenshot({ path: screenshotPath('readme-dashboard') });
      await page.close();
    } finally {
      await fast.close();
    }
  });
});
