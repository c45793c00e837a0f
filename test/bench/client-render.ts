/**
 * `npm run bench:client`: frame time of the real dashboard in headless Chromium with 8 GPUs × 1 h × 10 Hz of
 * history (used, PyTorch allocated and reserved per GPU) and live ticks at 10 Hz, against the same page with
 * chart.js decimation off (the baseline), measured in the same run. Target: ≥ 50 fps with decimation.
 *
 * Builds client/bench.html (client/src/bench/renderBench.ts) with Vite into test-output/bench-client/, serves it
 * on loopback, and reads the page's rAF frame times. Options: BENCH_SECONDS (default 8), BENCH_ROUNDS (default 2).
 */
/// <reference lib="dom" />
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import express from 'express';
import { build } from 'vite';
import { launchChromium } from '../support/browser.ts';
import { TEST_OUTPUT } from '../support/paths.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const TARGET_FPS = 50;
const root = fileURLToPath(new URL('../../client/', import.meta.url));
const outDir = `${TEST_OUTPUT}bench-client`;

interface BenchPage {
  __bench: { ready: boolean; points: number; measure(ms: number): Promise<Result> };
}

interface Result {
  frames: number;
  meanMs: number;
  p95Ms: number;
  maxMs: number;
  fps: number;
  longTasks: number;
  blockingMs: number;
  detailRedrawMs: number;
  detailRedrawP95Ms: number;
  cardRedrawMs: number;
  redraws: number;
}

async function main(): Promise<void> {
  console.log('building the benchmark page…');
  await build({ root, configFile: false, logLevel: 'warn', plugins: [svelte({ configFile: false, compilerOptions: { runes: true } })], build: { outDir, emptyOutDir: true, chunkSizeWarningLimit: 4096, rollupOptions: { input: `${root}bench.html` } } });
  const app = express();
  app.use(express.static(outDir));
  const server = createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  const browser = await launchChromium();
  const results: Record<'decimated' | 'baseline', Result[]> = { decimated: [], baseline: [] };
  try {
    for (let round = 0; round < ROUNDS; round++) {
      for (const mode of ['decimated', 'baseline'] as const) {
        const page = await browser.newPage({ viewport: { width: 1920, height: 1080 } });
        const errors: string[] = [];
        page.on('pageerror', (e) => errors.push(e.message));
        await page.goto(`${url}bench.html?decimation=${mode === 'decimated' ? 'on' : 'off'}`);
        await page.waitForFunction(() => (window as unknown as Partial<BenchPage>).__bench?.ready === true, null, { timeout: 120_000 });
        await page.waitForFunction(() => document.querySelectorAll('canvas').length >= 9, null, { timeout: 120_000 });
        // The detail chart shows the whole hour (36,000 points per line); the fleet cards their recent minutes.
        await page.locator('[data-testid="gpu-detail"] button', { hasText: '1 h' }).click();
        await page.waitForTimeout(1500); // settle: first full draws, JIT warm-up
        const r = await page.evaluate((ms) => (window as unknown as BenchPage).__bench.measure(ms), SECONDS * 1000);
        const points = await page.evaluate(() => (window as unknown as BenchPage).__bench.points);
        if (errors.length > 0) throw new Error(`page errors in ${mode}: ${errors.join('; ')}`);
        results[mode].push(r);
        console.log(`round ${round + 1} ${mode.padEnd(9)}: ${r.fps.toFixed(1)} fps, mean ${r.meanMs.toFixed(1)} ms, p95 ${r.p95Ms.toFixed(1)} ms, max ${r.maxMs.toFixed(0)} ms over ${r.frames} frames, ${r.longTasks} long tasks (${r.blockingMs.toFixed(0)} ms blocking); redraw: detail ${r.detailRedrawMs.toFixed(1)} ms (p95 ${r.detailRedrawP95Ms.toFixed(1)}), card ${r.cardRedrawMs.toFixed(1)} ms, ${r.redraws} redraws (${points.toLocaleString('en-US')} points held)`);
        await page.close();
      }
    }
  } finally {
    await browser.close();
    server.close();
  }
  const avg = (rs: Result[], k: keyof Result): number => rs.reduce((a, r) => a + r[k], 0) / rs.length;
  const sum = (rs: Result[]) => ({
    fps: avg(rs, 'fps'), mean: avg(rs, 'meanMs'), p95: avg(rs, 'p95Ms'), max: avg(rs, 'maxMs'), blocking: avg(rs, 'blockingMs') / SECONDS,
    detail: avg(rs, 'detailRedrawMs'), detailP95: avg(rs, 'detailRedrawP95Ms'), card: avg(rs, 'cardRedrawMs'),
  });
  const d = sum(results.decimated);
  const b = sum(results.baseline);
  const row = (name: string, x: typeof d): string =>
    `| ${name} | ${x.fps.toFixed(1)} | ${x.mean.toFixed(1)} ms | ${x.p95.toFixed(1)} ms | ${x.max.toFixed(0)} ms | ${x.blocking.toFixed(0)} ms/s | ${x.detail.toFixed(1)} ms (p95 ${x.detailP95.toFixed(1)}) | ${x.card.toFixed(1)} ms |`;
  console.log('\n| 8 GPUs × 1 h × 10 Hz, live 10 Hz | fps | mean frame | p95 frame | max frame | blocking | detail redraw (3 × 36,000 pts) | card redraw |');
  console.log('|---|---|---|---|---|---|---|---|');
  console.log(row('chart.js + min-max decimation (Headroom)', d));
  console.log(row('chart.js without decimation (baseline)', b));
  console.log(`\nratios baseline / Headroom: mean frame ${(b.mean / d.mean).toFixed(2)}×, detail redraw ${(b.detail / d.detail).toFixed(2)}×; target ≥ ${TARGET_FPS} fps: ${d.fps >= TARGET_FPS ? 'met' : 'NOT met'}`);
  if (d.fps < TARGET_FPS) process.exitCode = 1;
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.stack : e);
  process.exitCode = 1;
});
