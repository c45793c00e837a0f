/**
 * Render benchmark page: the real dashboard (App.svelte) fed by an in-page socket that delivers a snapshot
 * of 8 GPUs × 1 h × 10 Hz (used, PyTorch allocated and reserved per GPU) and then live ticks at 10 Hz.
 * `?decimation=off` is the baseline (chart.js without decimation). The page reports frame times on
 * `window.__bench` for test/bench/client-render.ts to read.
 */
import { mount } from 'svelte';
import App from '../App.svelte';
import '../app.css';
import { chartTuning } from '../lib/chart.svelte.ts';
import type { HeadroomSocket } from '../lib/socket.ts';
import { EMPTY_ALERTS } from '../../../shared/alerts.ts';
import { EMPTY_ATTRIBUTION } from '../../../shared/attribution.ts';
import type { Snapshot } from '../../../shared/contract.ts';
import type { GpuSample, TorchEvent, TorchSample } from '../../../shared/data.ts';

const params = new URLSearchParams(location.search);
chartTuning.decimation = params.get('decimation') !== 'off';
/** Cost of each redraw (chart.update: decimation, layout, drawing) of the detail chart and of the fleet cards. */
const redraws: { detail: number[]; cards: number[] } = { detail: [], cards: [] };
chartTuning.onRedraw = (ms, compact) => (compact ? redraws.cards : redraws.detail).push(ms);
const GPUS = Number(params.get('gpus') ?? 8);
const HZ = 10;
const HISTORY_MS = Number(params.get('historyMs') ?? 3_600_000);
const GiB = 1024 ** 3;
const TOTAL = 150_754_820_096;
const WEIGHTS = 16_060_522_496;

type Handler = (...args: unknown[]) => void;
class InPageSocket {
  #handlers = new Map<string, Handler[]>();
  on(event: string, fn: Handler): this {
    this.#handlers.set(event, [...(this.#handlers.get(event) ?? []), fn]);
    return this;
  }
  removeAllListeners(): this {
    this.#handlers.clear();
    return this;
  }
  close(): void {}
  fire(event: string, ...args: unknown[]): void {
    for (const fn of this.#handlers.get(event) ?? []) fn(...args);
  }
}

/** A serving-like load: weights, then request sawtooth with cached reserved memory. */
function load(gpu: number, t: number): { allocated: number; reserved: number } {
  const phase = ((t / 1000 + gpu * 7) % 23) / 23;
  const kv = Math.floor(phase * (2 + (gpu % 4)) * GiB);
  const noise = Math.floor(((t * 7919 + gpu * 104729) % 1000) * 1024 * 64);
  const allocated = WEIGHTS + kv + noise;
  return { allocated, reserved: WEIGHTS + Math.floor((3 + (gpu % 4)) * GiB) };
}

function sample(gpu: number, t: number): GpuSample {
  const { reserved } = load(gpu, t);
  const used = reserved + 700 * 1024 * 1024;
  return {
    timestampMs: t, index: gpu, uuid: `GPU-bench-${gpu}`, name: 'NVIDIA H200', busId: null, totalBytes: TOTAL, reservedBytes: 645_922_816,
    usedBytes: used, freeBytes: TOTAL - used - 645_922_816, utilizationGpuPercent: 80, utilizationMemoryPercent: 40, temperatureC: 50,
    powerDrawW: 400, powerLimitW: 700, pstate: 'P0', health: 'ok',
  };
}

function torch(gpu: number, t: number): TorchSample {
  const { allocated, reserved } = load(gpu, t);
  return {
    timestampMs: t, pid: 1000 + gpu, device: gpu, uuid: `GPU-bench-${gpu}`, phase: 'serving', allocatedBytes: allocated, reservedBytes: reserved,
    activeBytes: allocated, inactiveSplitBytes: 0, peakAllocatedBytes: allocated, numAllocRetries: 0, numOoms: 0,
  };
}

function events(start: number): TorchEvent[] {
  const out: TorchEvent[] = [];
  for (let g = 0; g < GPUS; g++) {
    const base = { pid: 1000 + g, device: g, name: null, message: null } as const;
    out.push({ ...base, timestampMs: start, kind: 'phase', name: 'cuda_init', facts: {} });
    out.push({
      ...base, timestampMs: start + 1000, kind: 'phase', name: 'load_weights',
      facts: { model: 'llama-3-8b', dtype: 'bf16', config: { num_hidden_layers: 32, hidden_size: 4096, num_attention_heads: 32, num_key_value_heads: 8, intermediate_size: 14336, vocab_size: 128256 } },
    });
    out.push({ ...base, timestampMs: start + 3000, kind: 'phase', name: 'serving', facts: { weight_bytes: WEIGHTS, params: 8_030_261_248 } });
  }
  return out;
}

const now = Date.now();
const start = now - HISTORY_MS;
const times: number[] = [];
for (let t = start; t <= now; t += 1000 / HZ) times.push(Math.round(t));
const snapshot: Snapshot = {
  serverVersion: 'bench', startedAtMs: start, nowMs: now,
  source: { kind: 'live', status: 'running', label: 'Render benchmark (synthetic data)', message: null, sinceMs: start, replay: null },
  gpus: Array.from({ length: GPUS }, (_, g) => sample(g, now)),
  history: Array.from({ length: GPUS }, (_, g) => ({ uuid: `GPU-bench-${g}`, samples: times.map((t) => sample(g, t)) })),
  processes: Array.from({ length: GPUS }, (_, g) => ({ pid: 1000 + g, name: 'python3', usedBytes: sample(g, now).usedBytes, gpuUuid: `GPU-bench-${g}` })),
  host: { timestampMs: now, memTotalBytes: 2048 * GiB, memUsedBytes: 300 * GiB, memAvailableBytes: 1700 * GiB, cpuLoadPercent: 20 },
  inventory: null,
  torchSamples: times.flatMap((t) => Array.from({ length: GPUS }, (_, g) => torch(g, t))),
  torchEvents: events(start),
  alerts: EMPTY_ALERTS,
  attribution: EMPTY_ATTRIBUTION,
};

const socket = new InPageSocket();
const target = document.getElementById('app');
if (!target) throw new Error('#app missing');
mount(App, { target, props: { socket: socket as unknown as HeadroomSocket } });

declare global {
  interface Window {
    __bench: {
      ready: boolean;
      points: number;
      measure(ms: number): Promise<{
        frames: number; meanMs: number; p95Ms: number; maxMs: number; fps: number; longTasks: number; blockingMs: number;
        detailRedrawMs: number; detailRedrawP95Ms: number; cardRedrawMs: number; redraws: number;
      }>;
    };
  }
}

socket.fire('connect');
socket.fire('snapshot', snapshot);
let t = now;
setInterval(() => {
  t += 1000 / HZ;
  const ts = Math.round(t);
  socket.fire('gpu', { timestampMs: ts, gpus: Array.from({ length: GPUS }, (_, g) => sample(g, ts)) });
  socket.fire('torch', Array.from({ length: GPUS }, (_, g) => torch(g, ts)));
}, 1000 / HZ);

window.__bench = {
  ready: true,
  points: times.length * GPUS * 3,
  measure(ms) {
    return new Promise((resolve) => {
      // Long tasks (> 50 ms on the main thread) and their time beyond 50 ms: what makes the page stutter.
      let longTasks = 0;
      let blockingMs = 0;
      const observer = new PerformanceObserver((list) => {
        for (const e of list.getEntries()) {
          longTasks++;
          blockingMs += Math.max(0, e.duration - 50);
        }
      });
      observer.observe({ type: 'longtask' });
      const deltas: number[] = [];
      redraws.detail.length = 0;
      redraws.cards.length = 0;
      let last = performance.now();
      const end = last + ms;
      const frame = (nowMs: number): void => {
        deltas.push(nowMs - last);
        last = nowMs;
        if (nowMs < end) requestAnimationFrame(frame);
        else {
          observer.disconnect();
          const sorted = [...deltas].sort((a, b) => a - b);
          const mean = deltas.reduce((a, b) => a + b, 0) / deltas.length;
          const avg = (xs: number[]): number => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length);
          const d = [...redraws.detail].sort((a, b) => a - b);
          resolve({
            frames: deltas.length, meanMs: mean, p95Ms: sorted[Math.floor(sorted.length * 0.95)] ?? mean, maxMs: sorted[sorted.length - 1] ?? mean, fps: 1000 / mean,
            longTasks, blockingMs, detailRedrawMs: avg(d), detailRedrawP95Ms: d[Math.floor(d.length * 0.95)] ?? 0, cardRedrawMs: avg(redraws.cards),
            redraws: redraws.detail.length + redraws.cards.length,
          });
        }
      };
      requestAnimationFrame((n) => {
        last = n;
        requestAnimationFrame(frame);
      });
    });
  },
};
