/**
 * The alerts panel in real Chromium against the agent replaying the real H200 session (8× speed): active
 * alerts with their evidence appear before the OOM, the GPU badge turns critical, resolved alerts move to
 * "Recent", and a webhook that cannot be reached is shown, not swallowed. Screenshots in test-output/.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from '../../server/agent.ts';
import { startTestAgent } from '../support/agent.ts';
import { launchChromium, screenshotPath } from '../support/browser.ts';

describe('alerts panel in the dashboard', () => {
  let agent: Agent;
  let browser: Browser;
  let page: Page;
  const errors: string[] = [];
  let closedPort = 0;

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'headroom-alerts-browser-'));
    const configFile = join(dir, 'headroom.json');
    // A loopback port just freed: every delivery fails fast with ECONNREFUSED.
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    closedPort = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    writeFileSync(configFile, JSON.stringify({ alerts: { webhooks: [{ url: `http://127.0.0.1:${closedPort}/hook`, maxAttempts: 1, timeoutMs: 1000 }] } }));
    agent = await startTestAgent(['--source', 'replay', '--replay-speed', '8', '--config', configFile]);
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(agent.url);
  });
  afterAll(async () => {
    await browser?.close();
    await agent?.close();
  });

  it('shows the forecast, fragmentation and OOM alerts with evidence, and a critical badge on GPU 0', async () => {
    const panel = page.locator('[data-testid="alerts-panel"]');
    await panel.waitFor({ timeout: 20_000 });
    await expect(panel.locator('[data-testid="alerts-none"]').textContent()).resolves.toBe('No active alert.');
    await page.locator('[data-testid="alerts-active"] li[data-rule="oom"]').waitFor({ timeout: 30_000 });
    const rules = await page.$$eval('[data-testid="alerts-active"] li', (els) => els.map((e) => `${e.getAttribute('data-severity')} ${e.getAttribute('data-rule')}`));
    expect(rules).toEqual(expect.arrayContaining(['critical oom', 'critical fragmentation']));
    const badge = panel.locator('[data-testid="alert-badge"]').first();
    await expect(badge.getAttribute('data-severity')).resolves.toBe('critical');
    await expect(badge.textContent()).resolves.toMatch(/GPU 0\s*\d+ critical/);
    const oom = page.locator('[data-testid="alerts-active"] li[data-rule="oom"]');
    // Fired on the sample that showed the OOM, then updated with the logged message 26 ms later.
    await page.waitForFunction(() => /Tried to allocate/.test(document.querySelector('[data-testid="alerts-active"] li[data-rule="oom"] .summary')?.textContent ?? ''));
    await expect(oom.locator('.summary').textContent()).resolves.toBe('pid 423 on GPU 0: CUDA out of memory: CUDA out of memory. Tried to allocate 42.00 GiB');
    await oom.locator('details summary').click();
    const rows = await oom.locator('tr').allTextContents();
    expect(rows).toEqual(expect.arrayContaining(['valuetried to allocate42.0 GiB', 'valuereserved unallocated42.2 GiB', 'thresholdquiet1 min 0 s']));
    await page.screenshot({ path: screenshotPath('alerts-panel-active'), fullPage: true });
  }, 60_000);

  it('moves resolved alerts to Recent and shows the failing webhook', async () => {
    await page.locator('[data-testid="alerts-recent"]').waitFor({ timeout: 30_000 });
    await page.locator('[data-testid="alerts-recent"] summary').click();
    await expect(page.locator('[data-testid="alerts-recent"] li[data-state="resolved"]').first().textContent()).resolves.toMatch(/forecast|fragmentation|oom/);
    const delivery = page.locator('[data-testid="alerts-delivery-errors"]');
    await delivery.waitFor({ timeout: 10_000 });
    await expect(delivery.textContent()).resolves.toMatch(new RegExp(`Webhook http://127\\.0\\.0\\.1:${closedPort}/hook \\(json\\): .*not delivered after 1 attempt: fetch failed \\(ECONNREFUSED\\)`));
    await page.screenshot({ path: screenshotPath('alerts-panel-recent'), fullPage: true });
    expect(errors).toEqual([]);
  }, 60_000);
});
