import { describe, expect, it } from 'vitest';
import { GiB } from '../../../shared/units.ts';
import { gpu, run, story, TOTAL } from './synth.ts';

/** free as a fraction of total, one sample every 250 ms over [from, to). */
function span(fromMs: number, toMs: number, freeFraction: (t: number) => number) {
  const out = [];
  for (let t = fromMs; t < toMs; t += 250) out.push(gpu(t, Math.round(TOTAL * freeFraction(t))));
  return out;
}

describe('headroom rule', () => {
  it('fires warning after its hold, escalates to critical after its hold, resolves once above threshold + hysteresis', () => {
    const records = [
      ...span(0, 5_000, () => 0.5),
      ...span(5_000, 20_000, () => 0.08), // < 10 %: warning after 10 s (at 15 s)
      ...span(20_000, 25_000, () => 0.03), // < 5 %: critical after 2 s (at 22 s)
      ...span(25_000, 30_000, () => 0.11), // above 10 % but inside the 2 % band: still firing
      ...span(30_000, 35_000, () => 0.2), // clear
    ];
    const { events, engine } = run(records);
    expect(story(events)).toEqual(['firing headroom:GPU-00000000-1111-2222-3333-444444444444 warning @15.0',
      'escalated headroom:GPU-00000000-1111-2222-3333-444444444444 critical @22.0',
      'resolved headroom:GPU-00000000-1111-2222-3333-444444444444 critical @30.0']);
    const fired = events[0]!.alert;
    expect(fired.evidence.conditionSinceMs).toBe(5_000);
    expect(fired.evidence.values.freeBytes).toBe(Math.round(TOTAL * 0.08));
    expect(fired.evidence.thresholds.warningFreeBelowBytes).toBe(Math.round(TOTAL * 0.1));
    expect(fired.subject).toEqual({ gpuUuid: expect.any(String), gpuIndex: 0, pid: null });
    expect(events[2]!.alert.resolvedEvidence?.values.freeBytes).toBe(Math.round(TOTAL * 0.2));
    expect(engine.active()).toEqual([]);
    expect(engine.recent()).toHaveLength(1);
  });

  it('does not fire for a dip shorter than the hold, and does not flap on input hovering at the threshold', () => {
    // Flapping input: 9 % / 11 % free on alternate samples for 60 s. Each rise above 10 % restarts the hold.
    const flap = span(0, 60_000, (t) => ((t / 250) % 2 === 0 ? 0.09 : 0.11));
    expect(run(flap).events).toEqual([]);
    // Once firing, hovering around the threshold does not resolve and re-fire.
    const records = [...span(0, 12_000, () => 0.09), ...span(12_000, 60_000, (t) => ((t / 250) % 2 === 0 ? 0.09 : 0.115)), ...span(60_000, 62_000, () => 0.5)];
    expect(story(run(records).events).map((s) => s.split(' ')[0])).toEqual(['firing', 'resolved']);
  });

  it('uses the absolute threshold when it is the larger one', () => {
    const records = span(0, 4_000, () => (3 * GiB) / TOTAL); // 3 GiB = 3.75 % of 80 GiB
    const { events } = run(records, { headroom: { critical: { freeBelowGiB: 4, freeBelowPercent: null, forMs: 1_000 }, warning: { freeBelowGiB: 8, forMs: 60_000 } } });
    expect(story(events)).toEqual(['firing headroom:GPU-00000000-1111-2222-3333-444444444444 critical @1.0']);
    expect(events[0]!.alert.evidence.thresholds.criticalFreeBelowBytes).toBe(4 * GiB);
  });

  it('re-notifies a lasting alert at the configured interval', () => {
    const { events } = run(span(0, 30_000, () => 0.01), { renotifyMs: 10_000, headroom: { critical: { freeBelowPercent: 5, forMs: 0 } } });
    expect(story(events).map((s) => `${s.split(' ')[0]} ${s.split('@')[1]}`)).toEqual(['firing 0.0', 'renotify 10.0', 'renotify 20.0']);
  });

  it('holds its state while the numbers are not available (a lost GPU), instead of resolving', () => {
    const lost = gpu(3_000, 0, { health: 'lost', freeBytes: null, usedBytes: null });
    const records = [...span(0, 3_000, () => 0.01), lost, ...span(3_250, 4_000, () => 0.01), ...span(4_000, 5_000, () => 0.5)];
    const { events } = run(records, { headroom: { critical: { freeBelowPercent: 5, forMs: 500 } } });
    expect(story(events).filter((s) => s.includes('headroom')).map((s) => s.split(' ')[0] + ' ' + s.split('@')[1])).toEqual(['firing 0.5', 'resolved 4.0']);
  });
});
