/**
 * `npm run bench:live -- [--nvidia-smi <path>] [--seconds 20] [--calls 20] [--interval-ms 100]`
 *
 * What watching the GPUs costs, measured in one run against one nvidia-smi:
 *  A. the live source (one long-lived `-lms` child) inside a real agent: this process's CPU time
 *     (process.cpuUsage()) per GPU sample, plus the CPU time of the nvidia-smi child per sample (/proc);
 *  B. calling node-nvidia-smi (`nvidia-smi -q -x` + xml2js) once per sample instead: wall time per call, this
 *     process's CPU per call (process.cpuUsage()), and the nvidia-smi child's CPU per call (/proc/self/stat
 *     cutime + cstime);
 *  C. for reference, one-shot `nvidia-smi --query-gpu` per sample.
 * Prints the ratios B/A and C/A. Without --nvidia-smi it uses the one on PATH (with the fake in test/ it
 * measures the plumbing only).
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { startAgent } from '../../server/agent.ts';
import { findNvidiaSmi, parseCli } from '../../server/config.ts';
import { setLogQuiet } from '../../server/log.ts';
import type { LiveSource } from '../../server/sources/live/liveSource.ts';
import { runNodeNvidiaSmi } from '../../server/sources/live/inventoryReader.ts';

const { values } = parseArgs({
  options: {
    'nvidia-smi': { type: 'string' },
    seconds: { type: 'string', default: '20' },
    calls: { type: 'string', default: '20' },
    'interval-ms': { type: 'string', default: '100' },
  },
});
const smi = findNvidiaSmi(values['nvidia-smi'] ?? null);
if (!smi) {
  console.error('bench:live: no nvidia-smi (pass --nvidia-smi <path>, e.g. test/fake-nvidia-smi/nvidia-smi)');
  process.exit(2);
}
const seconds = Number(values.seconds);
const calls = Number(values.calls);
const intervalMs = Number(values['interval-ms']);
const TICK_MS = 10; // USER_HZ: /proc times are in 1/100 s on Linux

/** utime+stime (own) and cutime+cstime (waited-for children) of a process, in ms. */
function procTimes(pid: number | 'self'): { ownMs: number; childrenMs: number } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
    // After "pid (comm) ": state is f[0]; utime f[11], stime f[12], cutime f[13], cstime f[14].
    return { ownMs: ((f[11] ?? 0) + (f[12] ?? 0)) * TICK_MS, childrenMs: ((f[13] ?? 0) + (f[14] ?? 0)) * TICK_MS };
  } catch {
    return null;
  }
}

const cpuMs = (u: NodeJS.CpuUsage): number => (u.user + u.system) / 1000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function measureLive(): Promise<{ ticks: number; agentCpuMsPerTick: number; smiChildCpuMsPerTick: number | null; waitedChildrenCpuMsPerTick: number; restarts: number }> {
  setLogQuiet(true);
  const parsed = parseCli(['--source', 'live', '--nvidia-smi', smi as string, '--interval-ms', String(intervalMs), '--port', '0'], {});
  if (parsed.help) throw new Error('help');
  const agent = await startAgent(parsed.config);
  let ticks = 0;
  agent.hub.subscribe({ record: (r) => void (r.kind === 'gpu' && ticks++) });
  await sleep(3000); // start-up, first inventory read
  const source = agent.source as LiveSource;
  const childPid = source.smiChildPid;
  const child0 = childPid ? procTimes(childPid) : null;
  const self0 = procTimes('self');
  const cpu0 = process.cpuUsage();
  const ticks0 = ticks;
  await sleep(seconds * 1000);
  const cpu = process.cpuUsage(cpu0);
  const n = ticks - ticks0;
  const child1 = childPid && source.smiChildPid === childPid ? procTimes(childPid) : null;
  const self1 = procTimes('self');
  const restarts = source.restarts;
  await agent.close();
  return {
    ticks: n,
    agentCpuMsPerTick: cpuMs(cpu) / n,
    smiChildCpuMsPerTick: child0 && child1 ? (child1.ownMs - child0.ownMs) / n : null,
    waitedChildrenCpuMsPerTick: self0 && self1 ? (self1.childrenMs - self0.childrenMs) / n : 0,
    restarts,
  };
}

async function measureCalls(label: string, call: () => Promise<unknown>): Promise<{ label: string; wallMsPerCall: number; selfCpuMsPerCall: number; childCpuMsPerCall: number }> {
  await call(); // warm
  const self0 = procTimes('self');
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < calls; i++) await call();
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const self1 = procTimes('self');
  return {
    label,
    wallMsPerCall: wall / calls,
    selfCpuMsPerCall: cpuMs(cpu) / calls,
    childCpuMsPerCall: self0 && self1 ? (self1.childrenMs - self0.childrenMs) / calls : 0,
  };
}

const queryGpuOnce = (): Promise<string> =>
  new Promise((resolve, reject) =>
    execFile(smi, ['--query-gpu=timestamp,index,uuid,memory.total,memory.reserved,memory.used,memory.free', '--format=csv,noheader,nounits'], (e, out) => (e ? reject(e) : resolve(out))),
  );

const live = await measureLive();
const nodeSmi = await measureCalls('node-nvidia-smi (-q -x + xml2js) per sample', () => runNodeNvidiaSmi(smi));
const oneShot = await measureCalls('one-shot --query-gpu per sample', queryGpuOnce);

const f = (n: number | null): string => (n === null ? 'n/a' : n.toFixed(3));
const liveTotal = live.agentCpuMsPerTick + (live.smiChildCpuMsPerTick ?? 0) + live.waitedChildrenCpuMsPerTick;
console.log(`nvidia-smi: ${smi}; live stream at ${intervalMs} ms for ${seconds} s; ${calls} calls each`);
console.log(`A live source: ${live.ticks} samples, restarts ${live.restarts}`);
console.log(`  agent process.cpuUsage() per sample: ${f(live.agentCpuMsPerTick)} ms`);
console.log(`  nvidia-smi -lms child CPU per sample: ${f(live.smiChildCpuMsPerTick)} ms`);
console.log(`  compute-apps polls (waited children) CPU per sample: ${f(live.waitedChildrenCpuMsPerTick)} ms`);
console.log(`  total CPU per sample: ${f(liveTotal)} ms`);
for (const c of [nodeSmi, oneShot]) {
  console.log(`${c === nodeSmi ? 'B' : 'C'} ${c.label}: wall ${f(c.wallMsPerCall)} ms/call; this process ${f(c.selfCpuMsPerCall)} ms CPU/call; nvidia-smi child ${f(c.childCpuMsPerCall)} ms CPU/call`);
  console.log(`  ratio to A: agent-side CPU ${f(c.selfCpuMsPerCall / live.agentCpuMsPerTick)}x, total CPU ${f((c.selfCpuMsPerCall + c.childCpuMsPerCall) / liveTotal)}x`);
}
console.log(JSON.stringify({ intervalMs, seconds, calls, live, nodeSmi, oneShot }));
