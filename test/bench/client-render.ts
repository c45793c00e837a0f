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
}

async function main(): Promise<void> {
  console.log('building the benchmark page…');
  await build({ root, logLevel: 'warn', plugins: [svelte({ configFile: false, compilerOptions: { runes: true } })], build: { outDir, emptyOutDir: true, chunkSizeWarningLimit: 4096, rollupOptions: { input: `${root}bench.html` } } });
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
        await page.waitForTimeout(1500); // settle: first full draws, JIT warm-up
        const r = await page.evaluate((ms) => (window as unknown as BenchPage).__bench.measure(ms), SECONDS * 1000);
        const points = await page.evaluate(() => (window as unknown as BenchPage).__bench.points);
        if (errors.length > 0) throw new Error(`page errors in ${mode}: ${errors.join('; ')}`);
        results[mode].push(r);
        console.log(`round ${round + 1} ${mode.padEnd(9)}: ${r.fps.toFixed(1)} fps, mean ${r.meanMs.toFixed(1)} ms, p95 ${r.p95Ms.toFixed(1)} ms, max ${r.maxMs.toFixed(0)} ms over ${r.frames} frames (${points.toLocaleString('en-US')} points held)`);
        await page.close();
      }
    }
  } finally {
    await browser.close();
    server.close();
  }
  const avg = (rs: Result[], k: keyof Result): number => rs.reduce((a, r) => a + r[k], 0) / rs.length;
  const d = { fps: avg(results.decimated, 'fps'), mean: avg(results.decimated, 'meanMs'), p95: avg(results.decimated, 'p95Ms') };
  const b = { fps: avg(results.baseline, 'fps'), mean: avg(results.baseline, 'meanMs'), p95: avg(results.baseline, 'p95Ms') };
  console.log('\n| 8 GPUs × 1 h × 10 Hz, live 10 Hz | fps | mean frame | p95 frame |');
  console.log('|---|---|---|---|');
  console.log(`| chart.js + min-max decimation (Headroom) | ${d.fps.toFixed(1)} | ${d.mean.toFixed(1)} ms | ${d.p95.toFixed(1)} ms |`);
  console.log(`| chart.js without decimation (baseline) | ${b.fps.toFixed(1)} | ${b.mean.toFixed(1)} ms | ${b.p95.toFixed(1)} ms |`);
  console.log(`\nspeed-up (mean frame time, baseline / Headroom): ${(b.mean / d.mean).toFixed(2)}×; target ≥ ${TARGET_FPS} fps: ${d.fps >= TARGET_FPS ? 'met' : 'NOT met'}`);
  if (d.fps < TARGET_FPS) process.exitCode = 1;
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.stack : e);
  process.exitCode = 1;
});
