// Reads lines from stdin and prints the gaps between their arrivals: does nvidia-smi -lms flush each row into a pipe?
import { createInterface } from 'node:readline';
const times = [];
createInterface({ input: process.stdin }).on('line', () => times.push(performance.now()));
process.stdin.on('end', () => {
  const gaps = times.slice(1).map((t, i) => t - times[i]).sort((a, b) => a - b);
  const q = (p) => (gaps.length ? gaps[Math.min(gaps.length - 1, Math.floor(p * gaps.length))].toFixed(1) : 'n/a');
  console.log(`${process.argv[2] ?? ''} lines ${times.length}; gap ms p10 ${q(0.1)} p50 ${q(0.5)} p90 ${q(0.9)} max ${q(1)}`);
});
