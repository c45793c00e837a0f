import { describe, expect, it } from 'vitest';
import { LineSplitter } from '../../../server/torch/lineSplitter.ts';

function split(chunks: (string | Buffer)[], max = 16): { lines: string[]; oversize: number; pending: number[] } {
  const lines: string[] = [];
  let oversize = 0;
  const pending: number[] = [];
  const s = new LineSplitter({ line: (t) => lines.push(t), oversize: () => oversize++ }, max);
  for (const c of chunks) {
    s.push(typeof c === 'string' ? Buffer.from(c) : c);
    pending.push(s.pendingBytes);
  }
  return { lines, oversize, pending };
}

describe('LineSplitter', () => {
  it('joins pieces, strips CR, ignores blank lines', () => {
    expect(split(['ab', 'c\r', '\n\n  \nd\r\ne']).lines).toEqual(['abc', 'd']);
  });

  it('never cuts a multi-byte character split across chunks', () => {
    const bytes = Buffer.from('µé→\n');
    expect(split([bytes.subarray(0, 1), bytes.subarray(1, 4), bytes.subarray(4)]).lines).toEqual(['µé→']);
  });

  it('drops a line over the limit whole, counts it once, and holds no more than the limit', () => {
    const r = split(['0123456789', '0123456789', '0123456789', 'tail\nok\n', `${'x'.repeat(20)}\nfine\n`]);
    expect(r.lines).toEqual(['ok', 'fine']);
    expect(r.oversize).toBe(2);
    expect(Math.max(...r.pending)).toBeLessThanOrEqual(16);
  });

  it('forgets the partial line on reset', () => {
    const lines: string[] = [];
    const s = new LineSplitter({ line: (t) => lines.push(t), oversize: () => undefined }, 100);
    s.push(Buffer.from('{"partial'));
    s.reset();
    s.push(Buffer.from('new\n'));
    expect(lines).toEqual(['new']);
  });
});
