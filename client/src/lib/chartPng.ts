/**
 * The exported PNG of a chart's visible window: a title line (what and when), the chart as drawn, and a
 * legend of the visible series, on the panel colour, so the picture stands on its own in a ticket or a report.
 */
import type { Chart } from 'chart.js';

export interface PngLegendItem {
  label: string;
  color: string;
  kind: 'band' | 'line';
}

export function composePng(chart: Chart<'line', unknown[]>, title: string, items: readonly PngLegendItem[], colors: { panel: string; text: string; muted: string }, fontPx: number): string {
  const src = chart.canvas;
  const ratio = chart.currentDevicePixelRatio || 1;
  const font = Math.round(fontPx * ratio);
  const pad = Math.round(8 * ratio);
  const line = Math.round(font * 1.6);
  const measure = document.createElement('canvas').getContext('2d');
  if (!measure) return chart.toBase64Image('image/png', 1);
  measure.font = `${font}px system-ui, sans-serif`;
  // Lay the legend out in rows that fit the chart's width.
  const swatch = Math.round(font * 1.4);
  const rows: { item: PngLegendItem; x: number }[][] = [[]];
  let x = pad;
  for (const item of items) {
    const w = swatch + Math.round(font * 0.4) + measure.measureText(item.label).width + pad * 2;
    if (x + w > src.width - pad && x > pad) {
      rows.push([]);
      x = pad;
    }
    rows[rows.length - 1]?.push({ item, x });
    x += w;
  }
  const header = line + pad;
  const legendH = items.length > 0 ? rows.length * line + pad : 0;
  const out = document.createElement('canvas');
  out.width = src.width;
  out.height = src.height + header + legendH;
  const ctx = out.getContext('2d');
  if (!ctx) return chart.toBase64Image('image/png', 1);
  ctx.fillStyle = colors.panel;
  ctx.fillRect(0, 0, out.width, out.height);
  ctx.textBaseline = 'middle';
  ctx.font = `600 ${font}px system-ui, sans-serif`;
  ctx.fillStyle = colors.text;
  ctx.fillText(title, pad, pad + line / 2);
  ctx.drawImage(src, 0, header);
  ctx.font = `${font}px system-ui, sans-serif`;
  rows.forEach((row, r) => {
    const y = header + src.height + pad / 2 + r * line + line / 2;
    for (const { item, x: left } of row) {
      ctx.fillStyle = item.color;
      ctx.strokeStyle = item.color;
      if (item.kind === 'band') ctx.fillRect(left, y - font / 3, swatch, (font * 2) / 3);
      else {
        ctx.lineWidth = Math.max(2, ratio * 2);
        ctx.beginPath();
        ctx.moveTo(left, y);
        ctx.lineTo(left + swatch, y);
        ctx.stroke();
      }
      ctx.fillStyle = colors.muted;
      ctx.fillText(item.label, left + swatch + Math.round(font * 0.4), y);
    }
  });
  return out.toDataURL('image/png');
}
