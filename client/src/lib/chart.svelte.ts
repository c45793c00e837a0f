/**
 * chart.js mounted through a Svelte attachment: `<canvas {@attach usedMemoryChart(() => input)}>`.
 * The chart is created once per canvas and destroyed on unmount; data changes update it without animation.
 */
import {
  Chart,
  Filler,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  TimeScale,
  Tooltip,
} from 'chart.js';
import 'chartjs-adapter-date-fns';
import type { Attachment } from 'svelte/attachments';
import { GiB } from '../../../shared/units.ts';
import type { Point } from './dashboard.svelte.ts';

Chart.register(LineController, LineElement, PointElement, LinearScale, TimeScale, Filler, Legend, Tooltip);

export interface UsedChartInput {
  points: Point[];
  totalBytes: number | null;
  label: string;
}

function cssVar(name: string, fallback: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
}

export function usedMemoryChart(input: () => UsedChartInput): Attachment<HTMLCanvasElement> {
  return (canvas) => {
    const accent = cssVar('--accent', '#2563eb');
    const grid = cssVar('--chart-grid', 'rgba(0,0,0,0.08)');
    const muted = cssVar('--muted', '#5b6470');
    const chart = new Chart<'line', Point[]>(canvas, {
      type: 'line',
      data: {
        datasets: [
          {
            label: 'used (nvidia-smi)',
            data: [],
            parsing: false,
            borderColor: accent,
            backgroundColor: `${accent}33`,
            fill: 'origin',
            pointRadius: 0,
            borderWidth: 1.5,
            tension: 0,
          },
        ],
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        normalized: true,
        interaction: { mode: 'nearest', axis: 'x', intersect: false },
        scales: {
          x: { type: 'time', time: { tooltipFormat: 'HH:mm:ss.SSS' }, grid: { color: grid }, ticks: { color: muted, maxRotation: 0 } },
          y: {
            min: 0,
            grid: { color: grid },
            ticks: { color: muted, callback: (v) => `${(Number(v) / GiB).toFixed(0)} GiB` },
            title: { display: true, text: 'GPU memory', color: muted },
          },
        },
        plugins: {
          legend: { display: false },
          tooltip: { callbacks: { label: (ctx) => `${ctx.dataset.label}: ${(Number(ctx.parsed.y) / GiB).toFixed(2)} GiB` } },
        },
      },
    });
    $effect(() => {
      const { points, totalBytes } = input();
      const ds = chart.data.datasets[0];
      if (ds) ds.data = points;
      const y = chart.options.scales?.y;
      if (y && totalBytes !== null) y.max = totalBytes;
      chart.update('none');
    });
    return () => chart.destroy();
  };
}
