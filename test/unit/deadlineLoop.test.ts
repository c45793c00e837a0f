import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DeadlineLoop } from '../../server/deadlineLoop.ts';
import { setLogQuiet } from '../../server/log.ts';

describe('DeadlineLoop', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(0);
    setLogQuiet(true);
  });
  afterEach(() => vi.useRealTimers());

  it('runs at once and then on every deadline, not one interval after each run ends', async () => {
    const starts: number[] = [];
    const loop = new DeadlineLoop({
      name: 't',
      intervalMs: 100,
      run: async () => {
        starts.push(Date.now());
        await new Promise((r) => setTimeout(r, 30)); // each run takes 30 ms
      },
    });
    loop.start();
    await vi.advanceTimersByTimeAsync(450);
    expect(starts).toEqual([0, 100, 200, 300, 400]);
    await loop.stop();
  });

  it('never overlaps a slow run, and skips the deadlines it missed instead of catching up', async () => {
    const starts: number[] = [];
    let active = 0;
    let maxActive = 0;
    const loop = new DeadlineLoop({
      name: 't',
      intervalMs: 100,
      run: async () => {
        starts.push(Date.now());
        maxActive = Math.max(maxActive, ++active);
        await new Promise((r) => setTimeout(r, starts.length === 1 ? 350 : 10));
        active--;
      },
    });
    loop.start();
    await vi.advanceTimersByTimeAsync(620);
    expect(maxActive).toBe(1);
    // The late run starts as soon as the slow one ends (setTimeout's 1 ms minimum), then the deadlines resume.
    expect(starts[1]).toBeGreaterThanOrEqual(350);
    expect(starts[1]).toBeLessThanOrEqual(351);
    expect([starts[0], ...starts.slice(2)]).toEqual([0, 400, 500, 600]);
    await loop.stop();
  });

  it('keeps going after a run throws, and stop() ends it', async () => {
    let runs = 0;
    const loop = new DeadlineLoop({
      name: 't',
      intervalMs: 50,
      run: async () => {
        runs++;
        if (runs === 2) throw new Error('boom');
      },
    });
    loop.start();
    await vi.advanceTimersByTimeAsync(220);
    expect(runs).toBe(5);
    await loop.stop();
    expect(loop.running).toBe(false);
    await vi.advanceTimersByTimeAsync(500);
    expect(runs).toBe(5);
  });
});
