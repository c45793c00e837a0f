// node compare.mjs <recording.jsonl> <torch-checks.jsonl> [agent.log]: the agent's used memory against nvidia-smi's
// own at the same moments, and what the recording holds.
import { readFileSync } from 'node:fs';
const MiB = 1024 * 1024;
const lines = readFileSync(process.argv[2], 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const gpu = lines.filter((r) => r.kind === 'gpu');
const checks = readFileSync(process.argv[3], 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const kinds = {};
for (const r of lines) kinds[r.kind] = (kinds[r.kind] ?? 0) + 1;
const gaps = gpu.slice(1).map((r, i) => r.t - gpu[i].t).sort((a, b) => a - b);
console.log(`recording: ${JSON.stringify(kinds)}; GPU sample gap ms p50 ${gaps[gaps.length >> 1]} p99 ${gaps[Math.floor(gaps.length * 0.99)]} max ${gaps[gaps.length - 1]}`);
console.log('phase | nvidia-smi used MiB (its own call) | agent used MiB (sample nearest the call) | diff MiB | agent sample age vs call mid ms | torch reserved MiB');
let maxDiff = 0;
for (const c of checks) {
  const mid = (c.callStartMs + c.callEndMs) / 2;
  let best = null;
  for (const r of gpu) {
    const g = r.gpus.find((x) => x.uuid === c.uuid);
    if (!g) continue;
    if (!best || Math.abs(r.t - mid) < Math.abs(best.t - mid)) best = { t: r.t, used: g.usedBytes };
  }
  const agentMiB = best ? best.used / MiB : null;
  const diff = agentMiB === null ? null : agentMiB - c.smiUsedMiB;
  if (diff !== null) maxDiff = Math.max(maxDiff, Math.abs(diff));
  console.log(`${c.phase} | ${c.smiUsedMiB} | ${agentMiB} | ${diff} | ${best ? Math.round(best.t - mid) : 'n/a'} | ${(c.torchReserved / MiB).toFixed(0)}`);
}
console.log(`max |agent - nvidia-smi| = ${maxDiff} MiB over ${checks.length} checks`);
const procs = lines.filter((r) => r.kind === 'processes').flatMap((r) => r.processes.map((p) => `${p.pid}:${p.name}`));
console.log(`processes seen: ${[...new Set(procs)].join(', ')}`);
const host = lines.filter((r) => r.kind === 'host').at(-1);
console.log(`last host sample: ${JSON.stringify(host?.host)}`);
