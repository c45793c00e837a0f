/**
 * The memory chart, mounted through a Svelte attachment: `<canvas {@attach memoryChart(() => input, api)}>`.
 * One chart.js instance per canvas, destroyed on unmount. Time axis with zoom and pan (chartjs-plugin-zoom),
 * min-max decimation of the measured lines (an hour at 10 Hz stays smooth), the predicted budget as stacked
 * bands (fill to the previous band), capacity/threshold lines and event markers (chartjs-plugin-annotation).
 * Data changes update the chart in place without animation; the view follows the newest `windowMs` until the
 * user zooms or pans, and `reset()` goes back to following.
 */
import {
  Chart,
  Decimation,
  Filler,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  TimeScale,
  Tooltip,
  type ChartDataset,
  type Plugin,
} from 'chart.js';
import 'chartjs-adapter-date-fns';
import annotationPlugin from 'chartjs-plugin-annotation';
import zoomPlugin from 'chartjs-plugin-zoom';
import { untrack } from 'svelte';
import type { Attachment } from 'svelte/attachments';
import { GiB } from '../../../shared/units.ts';
import { BAND_KEYS, BAND_LABELS, type BandKey } from './bands.ts';
import { buildAnnotations, type ThresholdLine } from './chartAnnotations.ts';
import type { TorchSeries } from './dashboard.svelte.ts';
import type { Marker } from './markers.ts';
import { composePng, type PngLegendItem } from './chartPng.ts';
import { cancelRedraw, requestRedraw } from './redraw.ts';
import type { Point, SeriesView } from './series.ts';
import { palette, theme, type Palette } from './theme.svelte.ts';

Chart.register(LineController, LineElement, PointElement, LinearScale, TimeScale, Filler, Tooltip, Decimation, zoomPlugin, annotationPlugin);

/** Redraw intervals: live data comes at up to 10 Hz; the compact fleet cards need less. */
const REDRAW_MS = 100;
const COMPACT_REDRAW_MS = 500;

/**
 * Switches for the render benchmark: its baseline (chart.js without decimation) and a probe of each redraw's
 * cost. The app never changes them.
 */
export const chartTuning: { decimation: boolean; onRedraw: ((ms: number, compact: boolean) => void) | null } = { decimation: true, onRedraw: null };

export interface MemoryChartInput {
  used: SeriesView | undefined;
  torch: readonly TorchSeries[];
  bands: Record<BandKey, Point[]> | null;
  capacityBytes: number | null;
  thresholds: readonly ThresholdLine[];
  markers: readonly Marker[];
  /** Follow the newest window of this length; null shows everything. */
  windowMs: number | null;
  /** Dataset keys hidden from the legend. */
  hidden: ReadonlySet<string>;
  compact: boolean;
  /** Scale y to the data instead of the whole GPU (capacity and thresholds may then lie above the view). */
  yFit?: boolean;
}

export interface ChartApi {
  reset(): void;
  zoom(factor: number): void;
  pan(fraction: number): void;
  /** The visible window as a PNG data URL: the title, the chart as drawn and a legend of the visible series. */
  png(title: string): string;
  visibleRange(): { minMs: number; maxMs: number } | null;
}

type DS = ChartDataset<'line', Point[]> & { key: string };

/** Paints the panel colour under the chart, so exported PNGs are readable on any background. */
const background: Plugin<'line'> = {
  id: 'headroomBackground',
  beforeDraw(chart) {
    const color = (chart.options.plugins as { headroomBackground?: { color?: string } } | undefined)?.headroomBackground?.color;
    if (!color) return;
    const { ctx, width, height } = chart;
    ctx.save();
    ctx.globalCompositeOperation = 'destination-over';
    ctx.fillStyle = color;
    ctx.fillRect(0, 0, width, height);
    ctx.restore();
  },
};

function datasetsFor(input: MemoryChartInput, p: Palette): DS[] {
  const out: DS[] = [];
  if (input.bands) {
    // Bands can predict far more than the GPU holds (an over-sized request): clip them just above capacity.
    const ceiling = input.capacityBytes !== null ? input.capacityBytes * 1.04 : Infinity;
    BAND_KEYS.forEach((k, i) => {
      const pts = input.bands?.[k] ?? [];
      out.push({
        key: `band:${k}`, label: `predicted ${BAND_LABELS[k]}`, data: pts.map((p) => (p.y > ceiling ? { x: p.x, y: ceiling } : p)), fill: i === 0 ? 'origin' : '-1',
        backgroundColor: p.bands[k], borderColor: p.bands[k], borderWidth: 0, pointRadius: 0, pointHitRadius: 0, order: 10, tension: 0,
      });
    });
  }
  if (input.used) {
    out.push({ key: 'used', label: 'used (nvidia-smi)', data: input.used.points as Point[], borderColor: p.used, borderWidth: 2, pointRadius: 0, fill: false, order: 0, tension: 0 });
  }
  input.torch.forEach((t, i) => {
    const n = i % p.allocated.length;
    out.push({ key: `alloc:${t.pid}`, label: t.allocated.label, data: t.allocated.points as Point[], borderColor: p.allocated[n], borderWidth: 1.5, pointRadius: 0, fill: false, order: 1, tension: 0 });
    out.push({ key: `resv:${t.pid}`, label: t.reserved.label, data: t.reserved.points as Point[], borderColor: p.reserved[n], borderWidth: 1.5, borderDash: [5, 3], pointRadius: 0, fill: false, order: 2, tension: 0 });
  });
  return out;
}

/** A round GiB step giving about `ticks` grid lines up to `maxBytes` (1, 2, 5 × 10^n GiB). */
export function gibStep(maxBytes: number, ticks = 7): number {
  const raw = maxBytes / GiB / ticks;
  const pow = 10 ** Math.floor(Math.log10(Math.max(raw, 1e-3)));
  const step = [1, 2, 5, 10].map((m) => m * pow).find((s) => s >= raw) ?? 10 * pow;
  return step * GiB;
}

function newestMs(input: MemoryChartInput): number | null {
  let t: number | null = input.used?.points[input.used.points.length - 1]?.x ?? null;
  for (const s of input.torch) {
    const x = s.allocated.points[s.allocated.points.length - 1]?.x;
    if (x !== undefined && (t === null || x > t)) t = x;
  }
  return t;
}

function oldestMs(input: MemoryChartInput): number | null {
  return input.used?.points[0]?.x ?? input.torch[0]?.allocated.points[0]?.x ?? null;
}

export function memoryChart(input: () => MemoryChartInput, onApi?: (api: ChartApi | null) => void): Attachment<HTMLCanvasElement> {
  return (canvas) => {
    let userView = false;
    let resetting = false;
    const chart = new Chart<'line', Point[]>(canvas, {
      type: 'line',
      data: { datasets: [] },
      options: {
        animation: false,
        maintainAspectRatio: false,
        parsing: false,
        normalized: true,
        spanGaps: true,
        interaction: { mode: 'nearest', axis: 'x', intersect: false },
        scales: {
          x: { type: 'time', time: { tooltipFormat: 'HH:mm:ss.SSS', displayFormats: { second: 'HH:mm:ss', minute: 'HH:mm' } }, ticks: { maxRotation: 0, autoSkipPadding: 16 } },
          y: { min: 0, ticks: { callback: (v) => `${(Number(v) / GiB).toFixed(Number(v) % GiB === 0 ? 0 : 1)} GiB` } },
        },
        plugins: {
          legend: { display: false },
          decimation: { enabled: chartTuning.decimation, algorithm: 'min-max' },
          tooltip: {
            filter: (item) => !(item.dataset as DS).key.startsWith('band:'),
            callbacks: { label: (ctx) => `${ctx.dataset.label}: ${(Number(ctx.parsed.y) / GiB).toFixed(2)} GiB` },
          },
          zoom: {
            limits: { x: { minRange: 1000 }, y: { min: 0 } },
            pan: { enabled: true, mode: 'x', onPanComplete: () => (userView = true) },
            // resetZoom() reports a zoom-complete too: only the user's gestures stop the view from following.
            zoom: { wheel: { enabled: true, modifierKey: 'ctrl' }, pinch: { enabled: true }, drag: { enabled: true, modifierKey: 'shift' }, mode: 'x', onZoomComplete: () => (userView = !resetting) },
          },
        },
      },
      plugins: [background],
    });
    let keys = '';
    const follow = (i: MemoryChartInput): void => {
      const x = chart.options.scales?.x;
      if (!x || userView) return;
      const newest = newestMs(i);
      const oldest = oldestMs(i);
      if (newest === null || oldest === null) return;
      x.max = newest;
      x.min = i.windowMs === null ? oldest : Math.max(oldest, newest - i.windowMs);
    };
    const apply = (i: MemoryChartInput): void => {
      const p = palette();
      const ds = datasetsFor(i, p);
      const nextKeys = ds.map((d) => d.key).join('|');
      if (nextKeys !== keys) {
        chart.data.datasets = ds;
        keys = nextKeys;
      } else {
        ds.forEach((d, n) => {
          const cur = chart.data.datasets[n] as DS | undefined;
          if (cur) {
            cur.data = d.data;
            cur.borderColor = d.borderColor;
            cur.backgroundColor = d.backgroundColor;
          }
        });
      }
      chart.data.datasets.forEach((d, n) => chart.setDatasetVisibility(n, !i.hidden.has((d as DS).key)));
      const o = chart.options;
      // Text scales with the page (app.css sizes the root font from the viewport: laptop to 4K wall).
      const rootPx = Number.parseFloat(getComputedStyle(document.documentElement).fontSize) || 16;
      const fontPx = Math.round(rootPx * (i.compact ? 0.68 : 0.78));
      o.font = { ...o.font, size: fontPx };
      const y = o.scales?.y;
      if (y) {
        // Whole GPU: round GiB steps up to the first step above capacity, so the grid lines are round numbers.
        const step = i.capacityBytes !== null && !i.yFit ? gibStep(i.capacityBytes, i.compact ? 3 : 7) : null;
        y.max = step !== null && i.capacityBytes !== null ? Math.ceil((i.capacityBytes * 1.02) / step) * step : undefined;
        (y as { grace?: string | number }).grace = i.yFit ? '8%' : 0;
        if (y.grid) y.grid.color = p.grid;
        if (y.ticks) {
          y.ticks.color = p.muted;
          (y.ticks as { stepSize?: number }).stepSize = step ?? undefined;
        }
      }
      const x = o.scales?.x;
      if (x?.grid) x.grid.color = p.grid;
      if (x?.ticks) x.ticks.color = p.muted;
      if (o.plugins) {
        (o.plugins as { headroomBackground?: { color: string } }).headroomBackground = { color: p.panel };
        if (o.plugins.decimation) o.plugins.decimation.enabled = chartTuning.decimation;
        o.plugins.annotation = { annotations: buildAnnotations({ capacityBytes: i.capacityBytes, thresholds: i.thresholds, markers: i.markers, compact: i.compact, nowMs: newestMs(i), yFit: i.yFit ?? false, fontPx }, p) };
      }
      follow(i);
      const t0 = chartTuning.onRedraw ? performance.now() : 0;
      chart.update('none');
      chartTuning.onRedraw?.(performance.now() - t0, i.compact);
      canvas.dataset.points = String(i.used?.points.length ?? 0);
      canvas.dataset.xMinMs = String(chart.scales.x?.min ?? '');
      canvas.dataset.xMaxMs = String(chart.scales.x?.max ?? '');
      canvas.dataset.datasets = String(chart.data.datasets.length);
    };
    // Redraw at most every `minIntervalMs`, in a frame shared fairly with the other charts (redraw.ts): ticks,
    // torch samples and events arrive independently (much faster in a sped-up replay); the newest input wins.
    const minIntervalMs = untrack(() => input().compact) ? COMPACT_REDRAW_MS : REDRAW_MS;
    let pending: MemoryChartInput | null = null;
    let timer: ReturnType<typeof setTimeout> | null = null;
    let queued = false;
    let lastMs = -Infinity;
    const flush = (): void => {
      queued = false;
      lastMs = performance.now();
      const i = pending;
      pending = null;
      if (i) apply(i);
    };
    const schedule = (): void => {
      if (timer !== null || queued) return;
      const wait = Math.max(0, lastMs + minIntervalMs - performance.now());
      timer = setTimeout(() => {
        timer = null;
        queued = true;
        requestRedraw(flush);
      }, wait);
    };
    $effect(() => {
      const i = input();
      // Versions are read so the effect re-runs on every tick; the arrays are shared, not copied.
      void i.used?.version;
      for (const t of i.torch) void t.allocated.version;
      for (const k of i.hidden) void k;
      void theme.dark;
      pending = i;
      schedule();
    });
    const api: ChartApi = {
      reset() {
        userView = false;
        resetting = true;
        chart.resetZoom('none');
        resetting = false;
        pending = untrack(input);
        flush();
      },
      zoom(factor) {
        userView = true;
        chart.zoom(factor, 'none');
      },
      pan(fraction) {
        userView = true;
        chart.pan({ x: -fraction * chart.chartArea.width }, undefined, 'none');
      },
      png(title) {
        const p = palette();
        const items = chart.data.datasets.flatMap((d, n): PngLegendItem[] => {
          if (!chart.isDatasetVisible(n)) return [];
          const band = (d as DS).key.startsWith('band:');
          return [{ label: d.label ?? '', color: String(band ? d.backgroundColor : d.borderColor), kind: band ? 'band' : 'line' }];
        });
        const s = chart.scales.x;
        const range = s ? ` — ${new Date(s.min).toLocaleString()} to ${new Date(s.max).toLocaleTimeString()}` : '';
        return composePng(chart as unknown as Chart<'line', unknown[]>, `${title}${range}`, items, p, Number(chart.options.font?.size ?? 12));
      },
      visibleRange() {
        const s = chart.scales.x;
        return s ? { minMs: s.min, maxMs: s.max } : null;
      },
    };
    onApi?.(api);
    return () => {
      onApi?.(null);
      if (timer !== null) clearTimeout(timer);
      cancelRedraw(flush);
      chart.destroy();
    };
  };
}
