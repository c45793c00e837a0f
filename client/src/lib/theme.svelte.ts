/**
 * Dark and light follow the system (`prefers-color-scheme`). CSS variables in app.css carry the palette;
 * the chart reads them through `palette()` and redraws when the scheme flips.
 */
import type { BandKey } from './bands.ts';

export interface Palette {
  text: string;
  muted: string;
  grid: string;
  panel: string;
  used: string;
  allocated: string[];
  reserved: string[];
  capacity: string;
  warning: string;
  critical: string;
  oom: string;
  marker: string;
  profiling: string;
  bands: Record<BandKey, string>;
}

class Theme {
  dark = $state(false);

  constructor() {
    if (typeof window === 'undefined' || typeof window.matchMedia !== 'function') return;
    const mq = window.matchMedia('(prefers-color-scheme: dark)');
    this.dark = mq.matches;
    mq.addEventListener('change', (e) => (this.dark = e.matches));
  }
}

export const theme = new Theme();

function cssVar(style: CSSStyleDeclaration, name: string, fallback: string): string {
  return style.getPropertyValue(name).trim() || fallback;
}

let cached: { dark: boolean; palette: Palette } | null = null;

/** The palette now in effect, read from the CSS once per scheme (charts ask on every redraw). */
export function palette(): Palette {
  const dark = theme.dark;
  if (cached?.dark !== dark) cached = { dark, palette: readPalette() };
  return cached.palette;
}

function readPalette(): Palette {
  const s = getComputedStyle(document.documentElement);
  const v = (n: string, f: string): string => cssVar(s, n, f);
  return {
    text: v('--text', '#1b1f24'),
    muted: v('--muted', '#5b6470'),
    grid: v('--chart-grid', 'rgba(0,0,0,0.08)'),
    panel: v('--panel', '#ffffff'),
    used: v('--line-used', '#111827'),
    allocated: [v('--line-alloc-0', '#2563eb'), v('--line-alloc-1', '#9333ea'), v('--line-alloc-2', '#0891b2')],
    reserved: [v('--line-reserved-0', '#60a5fa'), v('--line-reserved-1', '#c084fc'), v('--line-reserved-2', '#22d3ee')],
    capacity: v('--capacity', '#374151'),
    warning: v('--warning', '#d97706'),
    critical: v('--critical', '#dc2626'),
    oom: v('--critical', '#dc2626'),
    marker: v('--marker', '#6b7280'),
    profiling: v('--profiling', 'rgba(147, 51, 234, 0.12)'),
    bands: {
      weights: v('--band-weights', 'rgba(100, 116, 139, 0.35)'),
      kvNow: v('--band-kv-now', 'rgba(16, 185, 129, 0.40)'),
      kvToMax: v('--band-kv-max', 'rgba(16, 185, 129, 0.16)'),
      activation: v('--band-activation', 'rgba(245, 158, 11, 0.35)'),
      overhead: v('--band-overhead', 'rgba(236, 72, 153, 0.25)'),
    },
  };
}
