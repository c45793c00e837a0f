// @vitest-environment happy-dom
/** The Now bar component in a DOM: measured next to predicted, difference per category, free headroom. */
import { flushSync, mount, unmount } from 'svelte';
import { afterEach, describe, expect, it } from 'vitest';
import NowBar from '../../../client/src/components/NowBar.svelte';
import type { Split } from '../../../client/src/lib/split.ts';
import { GiB } from '../../../shared/units.ts';

const measured: Split = { weights: 15 * GiB, kv: 0, activations: 2 * GiB, torchCache: 3 * GiB, nonTorch: GiB, otherProcesses: 0, driverReserved: GiB / 2, free: 78.5 * GiB };
const predicted: Split = { ...measured, activations: 1 * GiB, torchCache: 1 * GiB, free: 81.5 * GiB };

let app: ReturnType<typeof mount> | null = null;
afterEach(() => {
  if (app) unmount(app);
  app = null;
  document.body.innerHTML = '';
});

describe('NowBar', () => {
  it('shows both bars, the free headroom in GiB and %, and each category’s difference', () => {
    app = mount(NowBar, { target: document.body, props: { measured, predicted, totalBytes: 100 * GiB } });
    flushSync();
    expect(document.querySelector('[data-testid="headroom"]')?.textContent?.replace(/\s+/g, ' ').trim()).toBe('78.5 GiB free (78.5 %)');
    expect(document.querySelectorAll('[role="img"]')).toHaveLength(2);
    const row = document.querySelector('[data-testid="split-row"][data-key="torchCache"]');
    const cells = Array.from(row?.querySelectorAll('td') ?? [], (c) => c.textContent?.trim());
    expect(cells).toEqual(['3.00 GiB', '1.00 GiB', '+2.00 GiB', '+200.0 %']);
    const seg = document.querySelector<HTMLElement>('.bar:not(.predicted) .seg[data-key="weights"]');
    expect(seg?.style.width).toBe('15%');
  });

  it('without a prediction shows only the measured bar and no made-up numbers', () => {
    app = mount(NowBar, { target: document.body, props: { measured, predicted: null, totalBytes: 100 * GiB } });
    flushSync();
    expect(document.querySelectorAll('[role="img"]')).toHaveLength(1);
    const cells = Array.from(document.querySelector('[data-testid="split-row"][data-key="weights"]')?.querySelectorAll('td') ?? [], (c) => c.textContent?.trim());
    expect(cells).toEqual(['15.00 GiB', '—', '—', '—']);
  });
});
