/** The Now bar's split: measured (shared attribution, on the real session) against predicted, and the bar maths. */
import { describe, expect, it } from 'vitest';
import { attributeGpus, othersParts, splitOf } from '../../../client/src/lib/measuredSplit.ts';
import { foldEvents } from '../../../client/src/lib/processFacts.ts';
import { barWidths, compareSplits, predictedSplit, SPLIT_KEYS, type Split } from '../../../client/src/lib/split.ts';
import { GiB } from '../../../shared/units.ts';
import { sessionRecords, stateAt } from './session.ts';

async function splitAt(secondsIn: number) {
  const records = await sessionRecords();
  const st = stateAt(records, (records[0]?.t ?? 0) + secondsIn * 1000);
  const facts = Object.fromEntries(foldEvents(st.events));
  const [a] = attributeGpus({ gpus: [st.gpu], processes: st.processes, torch: [...st.torchLatest.values()], facts });
  if (!a) throw new Error('no attribution');
  return { a, split: splitOf(a), gpu: st.gpu };
}

const total = (s: Split): number => SPLIT_KEYS.reduce((acc, k) => acc + (s[k] ?? 0), 0);

describe('measured split of the recorded session', () => {
  it('serving, one process: weights are the hook’s 16,060,522,496 bytes and the parts add up to the GPU total', async () => {
    const { split, gpu, a } = await splitAt(47);
    expect(split.weights).toBe(16_060_522_496);
    // The hook reports no KV-cache bytes in this session: attribution counts KV under "other PyTorch".
    expect(split.kv).toBe(0);
    expect(a.processes.map((p) => [p.pid, p.kvCacheReported])).toEqual([[423, false]]);
    expect(split.nonTorch).toBeGreaterThan(0.6 * GiB);
    expect(split.nonTorch).toBeLessThan(0.8 * GiB);
    // nvidia-smi's own total = used + reserved + free holds to its MiB rounding.
    expect(Math.abs(total(split) + a.skewBytes - (gpu.totalBytes ?? 0))).toBeLessThanOrEqual(4 * 1024 * 1024);
  });

  it('after the OOM, the fragmentation PyTorch reported is visible as cached-but-free memory', async () => {
    const { split } = await splitAt(92);
    // "42.23 GiB is reserved by PyTorch but unallocated" at the OOM; afterwards most of the reserve is free blocks.
    expect(split.torchCache).toBeGreaterThan(42 * GiB);
    expect(split.weights).toBe(16_060_522_496 + 988_065_536);
  });
});

describe('compareSplits() and predictedSplit()', () => {
  const measured: Split = { weights: 100, kv: 20, activations: 30, torchCache: 10, nonTorch: 5, otherProcesses: 7, driverReserved: 3, free: 825 };

  it('gives the difference per category in bytes and as a fraction of the prediction, null where unknown', () => {
    const predicted: Split = { ...measured, kv: 40, activations: 0, nonTorch: null };
    const rows = Object.fromEntries(compareSplits(measured, predicted).map((r) => [r.key, r]));
    expect(rows.kv).toMatchObject({ diffBytes: -20, diffFraction: -0.5 });
    expect(rows.activations).toMatchObject({ diffBytes: 30, diffFraction: null });
    expect(rows.nonTorch).toMatchObject({ diffBytes: null, diffFraction: null });
    expect(rows.weights).toMatchObject({ diffBytes: 0, diffFraction: 0 });
  });

  it('adds the other processes as measured and takes free as what remains of the total', () => {
    const p = predictedSplit(
      { weightsBytes: 90, kvNowBytes: 25, activationBytes: 28, torchCacheBytes: 4, nonTorchBytes: 6 },
      { weightsBytes: 10, kvNowBytes: 0, activationBytes: 1, torchCacheBytes: 2, nonTorchBytes: 1 },
      measured,
      1000,
    );
    expect(p).toEqual({ weights: 100, kv: 25, activations: 29, torchCache: 6, nonTorch: 7, otherProcesses: 7, driverReserved: 3, free: 1000 - 177 });
  });

  it('othersParts() sums the processes other than the predicted one', async () => {
    const { a } = await splitAt(92);
    const others = othersParts(a, 423);
    expect(others.weightsBytes).toBe(988_065_536);
    expect(othersParts(a, null).weightsBytes).toBe(16_060_522_496 + 988_065_536);
  });

  it('barWidths() scales to the total and gives unknown categories no width', () => {
    const w = barWidths({ ...measured, nonTorch: null }, 1000);
    expect(w.weights).toBeCloseTo(0.1);
    expect(w.nonTorch).toBe(0);
    expect(SPLIT_KEYS.reduce((acc, k) => acc + w[k], 0)).toBeCloseTo(0.995);
  });
});
