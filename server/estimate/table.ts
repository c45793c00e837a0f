/** Human-readable `headroom estimate` output (without --json): one line per number with its explanation. */
import { formatBytes } from '../../shared/units.ts';

const ROWS: [key: string, label: string][] = [
  ['weightsBytes', 'weights'],
  ['kvCacheBytes', 'KV cache'],
  ['activationBytes', 'activations'],
  ['logitsBytes', 'logits'],
  ['gradientsBytes', 'gradients'],
  ['optimizerBytes', 'optimizer'],
  ['overheadBytes', 'overhead'],
  ['peakAllocatedBytes', 'peak allocated'],
  ['reservedBytes', 'reserved'],
  ['deviceUsedBytes', 'device used'],
  ['reservedAfterDecodeBytes', 'reserved (dec.)'],
  ['deviceUsedAfterDecodeBytes', 'used (decode)'],
];

export function formatEstimate(e: Record<string, unknown>): string {
  const ex = (e.explanations ?? {}) as Record<string, string>;
  const model = e.model as { name: string; source: string } | undefined;
  const lines = [`${model?.name ?? 'model'} — ${model?.source ?? ''}`, ''];
  for (const [key, label] of ROWS) {
    const v = e[key];
    if (typeof v !== 'number' || (v === 0 && (key === 'gradientsBytes' || key === 'optimizerBytes'))) continue;
    if (key === 'reservedAfterDecodeBytes' && v === e.reservedBytes) continue; // no decode growth to show
    if (key === 'deviceUsedAfterDecodeBytes' && v === e.deviceUsedBytes) continue;
    lines.push(`${label.padEnd(15)} ${formatBytes(v, 2).padStart(12)}   ${ex[key] ?? ''}`);
  }
  lines.push('', `${e.fits ? 'FITS' : 'DOES NOT FIT'} — ${ex.fits ?? ''}`);
  if (e.solve) lines.push(`solve: ${JSON.stringify(e.solve)}`);
  return `${lines.join('\n')}\n`;
}
