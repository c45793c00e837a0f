/**
 * chartjs-plugin-annotation options for the memory chart: horizontal lines for capacity and the alert
 * thresholds, vertical lines for events (OOM, empty_cache, weights loaded, process start/exit), and a box for
 * the profiling window. Pure (colours come in), so it is tested without a canvas.
 */
import { formatGiB } from '../../../shared/units.ts';
import type { Marker } from './markers.ts';

export interface ThresholdLine {
  key: string;
  label: string;
  bytes: number;
  level: 'warning' | 'critical';
}

export interface AnnotationColors {
  capacity: string;
  warning: string;
  critical: string;
  oom: string;
  marker: string;
  profiling: string;
  text: string;
  panel: string;
}

export interface AnnotationSpec {
  type: 'line' | 'box';
  /** False keeps an out-of-range line from stretching the axis (the "fit to data" view). */
  adjustScaleRange?: boolean;
  drawTime?: 'beforeDatasetsDraw' | 'afterDatasetsDraw';
  scaleID?: 'x' | 'y';
  value?: number;
  xMin?: number;
  xMax?: number;
  borderColor?: string;
  borderWidth?: number;
  borderDash?: number[];
  backgroundColor?: string;
  label?: {
    display: boolean;
    content: string;
    position?: 'start' | 'end' | 'center';
    backgroundColor?: string;
    color?: string;
    font?: { size: number };
    padding?: number;
    rotation?: number;
  };
}

/** Markers to draw in a window: compact cards show only OOMs, to stay legible. */
export function buildAnnotations(
  input: { capacityBytes: number | null; thresholds: readonly ThresholdLine[]; markers: readonly Marker[]; compact: boolean; nowMs: number | null; yFit?: boolean; fontPx?: number },
  c: AnnotationColors,
): Record<string, AnnotationSpec> {
  const out: Record<string, AnnotationSpec> = {};
  const fontSize = input.fontPx ?? (input.compact ? 10 : 11);
  if (input.capacityBytes !== null) {
    out.capacity = {
      type: 'line', scaleID: 'y', adjustScaleRange: !input.yFit, value: input.capacityBytes, borderColor: c.capacity, borderWidth: 2, drawTime: 'afterDatasetsDraw',
      label: { display: !input.compact, content: `capacity ${formatGiB(input.capacityBytes, 1)}`, position: 'start', backgroundColor: c.panel, color: c.text, font: { size: fontSize }, padding: 3 },
    };
  }
  for (const t of input.thresholds) {
    const color = t.level === 'critical' ? c.critical : c.warning;
    out[`threshold-${t.key}`] = {
      type: 'line', scaleID: 'y', adjustScaleRange: !input.yFit, value: t.bytes, borderColor: color, borderWidth: 1, borderDash: [6, 4], drawTime: 'afterDatasetsDraw',
      label: { display: !input.compact, content: t.label, position: 'center', backgroundColor: c.panel, color, font: { size: fontSize }, padding: 3 },
    };
  }
  input.markers.forEach((m, i) => {
    if (input.compact && m.kind !== 'oom') return;
    if (m.kind === 'profiling') {
      out[`marker-${i}`] = {
        type: 'box', xMin: m.atMs, xMax: m.endMs ?? input.nowMs ?? m.atMs, backgroundColor: c.profiling, borderWidth: 0, drawTime: 'beforeDatasetsDraw',
        label: { display: !input.compact, content: m.label, position: 'start', color: c.text, font: { size: fontSize } },
      };
      return;
    }
    const color = m.kind === 'oom' ? c.oom : c.marker;
    out[`marker-${i}`] = {
      type: 'line', scaleID: 'x', value: m.atMs, borderColor: color, borderWidth: m.kind === 'oom' ? 2 : 1,
      borderDash: m.kind === 'oom' ? [] : [3, 3], drawTime: 'afterDatasetsDraw',
      label: { display: !input.compact || m.kind === 'oom', content: m.label, position: 'start', rotation: -90, backgroundColor: c.panel, color, font: { size: fontSize }, padding: 2 },
    };
  });
  return out;
}
