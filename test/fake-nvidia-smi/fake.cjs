/**
 * Fake nvidia-smi. Replays real captures (test/fixtures) for the invocations Headroom makes:
 *   --query-gpu=<fields> --format=csv[,noheader][,nounits] [-lms <ms> | --loop-ms=<ms>]
 *   --query-compute-apps=<fields> --format=csv,...
 *   -q -x
 * A `-lms` loop prints one row per GPU every <ms> milliseconds, with the current time as timestamp, cycling
 * through the capture's ticks. Fields are checked against the real driver's `--help-query-gpu` list.
 *
 * Environment:
 *   FAKE_SMI_SCENARIO       2gpu (default: two H200s, a TP=2 run) | serving (one H200, the serving session)
 *   FAKE_SMI_FAULT          hang | crash | garbage | placeholder | falls-off | no-devices | driver | not-found
 *   FAKE_SMI_FAULT_AFTER    ticks printed before a stream fault starts (default 3)
 *   FAKE_SMI_FAULT_RUNS     the fault hits only the first N runs (needs FAKE_SMI_STATE_DIR); default: every run
 *   FAKE_SMI_STATE_DIR      a directory for the run counter
 *   FAKE_SMI_PLACEHOLDER    the placeholder for `placeholder` (default "[GPU is lost]")
 *   FAKE_SMI_REJECT_FIELDS  comma list of --query-gpu fields this "driver" rejects (exit 2, as old drivers do)
 *   FAKE_SMI_APPS_SELF      1: compute apps report the calling process (the agent) instead of the capture's PIDs
 */
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const FIX = path.join(__dirname, '..', 'fixtures');
const env = process.env;
const argv = process.argv.slice(2);

const SCENARIOS = {
  '2gpu': {
    loop: 'nvidia-smi/h200-2gpu/gpu_loop_2gpu.csv',
    fields: ['timestamp', 'index', 'uuid', 'name', 'pci.bus_id', 'memory.total', 'memory.reserved', 'memory.used', 'memory.free', 'utilization.gpu', 'utilization.memory', 'temperature.gpu', 'power.draw'],
    apps: 'nvidia-smi/h200-2gpu/apps_2gpu_loaded.csv',
    xml: 'nvidia-smi/h200-2gpu/qx_2gpu_loaded.xml',
  },
  serving: {
    loop: 'sessions/h200-serving/smi_gpu_loop_lms250.csv',
    fields: ['timestamp', 'index', 'uuid', 'name', 'memory.total', 'memory.reserved', 'memory.used', 'memory.free', 'utilization.gpu', 'utilization.memory', 'temperature.gpu', 'power.draw'],
    apps: 'sessions/h200-serving/smi_apps_loop.txt',
    xml: 'nvidia-smi/h200-1gpu/query_xml_serving.xml',
  },
};
/** Values the loop captures did not ask for, as the H200's `-q -x` shows them. */
const STATIC = { 'power.limit': '700.00', pstate: 'P0', 'pci.bus_id': '00000000:00:06.0', name: 'NVIDIA H200' };
const HEALTH_PLACEHOLDERS = ['[GPU is lost]', '[GPU requires reset]', '[Unknown Error]'];
const VALUE_FIELDS = /^(memory\.|utilization\.|temperature\.|power\.draw)/;

const scenario = SCENARIOS[env.FAKE_SMI_SCENARIO || '2gpu'];
if (!scenario) fail(`fake nvidia-smi: unknown FAKE_SMI_SCENARIO ${env.FAKE_SMI_SCENARIO}`, 1);
const read = (rel) => fs.readFileSync(path.join(FIX, rel), 'utf8');

function fail(message, code, toStderr = false) {
  (toStderr ? process.stderr : process.stdout).write(`${message}\n`);
  process.exit(code);
}

function arg(name) {
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === name) return argv[i + 1];
    if (argv[i].startsWith(`${name}=`)) return argv[i].slice(name.length + 1);
  }
  return undefined;
}

/** Count runs of one kind in the state dir; returns the number of this run (1-based). */
function countRun(kind) {
  const dir = env.FAKE_SMI_STATE_DIR;
  if (!dir) return 1;
  const file = path.join(dir, `runs-${kind}`);
  let n = 0;
  try {
    n = Number(fs.readFileSync(file, 'utf8')) || 0;
  } catch {}
  if (kind !== 'peek') fs.writeFileSync(file, String(n + 1));
  return n + 1;
}

const fault = env.FAKE_SMI_FAULT || '';
const faultRuns = env.FAKE_SMI_FAULT_RUNS ? Number(env.FAKE_SMI_FAULT_RUNS) : Infinity;
const faultAfter = env.FAKE_SMI_FAULT_AFTER ? Number(env.FAKE_SMI_FAULT_AFTER) : 3;
const loopMs = Number(arg('-lms') ?? arg('--loop-ms') ?? NaN);
const isLoop = Number.isFinite(loopMs);
const mode = arg('--query-gpu') ? 'gpu' : arg('--query-compute-apps') ? 'apps' : argv.includes('-q') ? 'xml' : 'other';

// Which run is this? Loops count themselves; one-shot calls look at how many loops ran (a driver that came back).
const loopRun = isLoop ? countRun('lms') : (() => {
  const dir = env.FAKE_SMI_STATE_DIR;
  if (!dir) return 1;
  try {
    return Number(fs.readFileSync(path.join(dir, 'runs-lms'), 'utf8')) || 1;
  } catch {
    return 1;
  }
})();
const faultActive = fault !== '' && loopRun <= faultRuns;

// Whole-process failures: every kind of call fails the same way.
if (faultActive && fault === 'no-devices') fail('No devices were found', 6);
if (faultActive && fault === 'driver') fail("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running.", 9);
if (faultActive && fault === 'not-found') fail('/usr/bin/nvidia-smi: line 1: nvidia-smi.real: command not found', 127, true);

const format = (arg('--format') || '').split(',');
const noheader = format.includes('noheader');
const nounits = format.includes('nounits');
if (mode !== 'xml' && !format.includes('csv')) fail('"--format" requires "csv"', 2);

function validGpuFields() {
  const names = new Set();
  for (const line of read('nvidia-smi/help_query_gpu.txt').split('\n')) {
    if (line.startsWith('"')) for (const m of line.matchAll(/"([^"]+)"/g)) names.add(m[1]);
  }
  return names;
}

function localTimestamp(ms) {
  const d = new Date(ms);
  const p = (n, w = 2) => String(n).padStart(w, '0');
  return `${d.getFullYear()}/${p(d.getMonth() + 1)}/${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

/** The capture's rows grouped into ticks (a row whose index does not rise starts a tick). */
function captureTicks() {
  const ticks = [];
  let current = [];
  for (const line of read(scenario.loop).split('\n')) {
    if (line.trim() === '') continue;
    const cells = line.split(', ');
    const row = Object.fromEntries(scenario.fields.map((f, i) => [f, cells[i]]));
    const last = current[current.length - 1];
    if (last && Number(row.index) <= Number(last.index)) {
      ticks.push(current);
      current = [];
    }
    current.push(row);
  }
  if (current.length) ticks.push(current);
  return ticks;
}

const UNITS = { 'memory.total': ' MiB', 'memory.reserved': ' MiB', 'memory.used': ' MiB', 'memory.free': ' MiB', 'utilization.gpu': ' %', 'utilization.memory': ' %', 'power.draw': ' W', 'power.limit': ' W' };

function gpuRow(row, fields, nowMs, placeholder) {
  return fields
    .map((f) => {
      if (f === 'timestamp') return localTimestamp(nowMs);
      if (placeholder && f !== 'index' && (HEALTH_PLACEHOLDERS.includes(placeholder) || VALUE_FIELDS.test(f))) return placeholder;
      const v = row[f] ?? STATIC[f] ?? '[N/A]';
      return !nounits && UNITS[f] && !v.startsWith('[') ? `${v}${UNITS[f]}` : v;
    })
    .join(', ');
}

function queryGpu() {
  const fields = arg('--query-gpu').split(',');
  const valid = validGpuFields();
  const rejected = new Set((env.FAKE_SMI_REJECT_FIELDS || '').split(',').filter(Boolean));
  for (const f of fields) {
    if (!valid.has(f) || rejected.has(f)) {
      fail(`Field "${f}" is not a valid field to query.\n\nPlease run 'nvidia-smi --help-query-gpu' to see the list of valid fields.`, 2);
    }
  }
  const ticks = captureTicks();
  const out = process.stdout;
  if (!noheader) out.write(`${fields.map((f) => (!nounits && UNITS[f] ? `${f} [${UNITS[f].trim()}]` : f)).join(', ')}\n`);
  if (!isLoop) {
    for (const row of ticks[0]) out.write(`${gpuRow(row, fields, Date.now(), null)}\n`);
    return;
  }
  const streamFault = faultActive ? fault : '';
  const lastIndex = String(ticks[0].length - 1);
  let n = 0;
  let told = false;
  const startMs = Date.now();
  const tick = () => {
    const faulty = streamFault !== '' && n >= faultAfter;
    if (faulty && streamFault === 'hang') return; // alive, silent
    const now = Date.now();
    const rows = ticks[n % ticks.length];
    if (faulty && streamFault === 'crash') {
      out.write(gpuRow(rows[0], fields, now, null).slice(0, 40), () => process.kill(process.pid, 'SIGKILL'));
      return;
    }
    if (faulty && streamFault === 'garbage') {
      out.write('\u0007\u0000ERR! ERR! ERR!\n#@!?, garbage, 42\n');
    } else {
      let text = '';
      for (const row of rows) {
        if (faulty && streamFault === 'falls-off' && row.index === lastIndex) {
          if (!told) text += `Unable to determine the device handle for GPU${lastIndex}: ${row['pci.bus_id'] ?? '00000000:00:07.0'}: Unknown Error\n`;
          told = true;
          continue;
        }
        const placeholder = faulty && streamFault === 'placeholder' && row.index === lastIndex ? env.FAKE_SMI_PLACEHOLDER || '[GPU is lost]' : null;
        text += `${gpuRow(row, fields, now, placeholder)}\n`;
      }
      out.write(text);
    }
    n++;
    setTimeout(tick, Math.max(0, startMs + n * loopMs - Date.now()));
  };
  tick();
  setInterval(() => {}, 1 << 30); // a real loop runs until killed
}

function computeApps() {
  const fields = arg('--query-compute-apps').split(',');
  const text = read(scenario.apps);
  let rows;
  let capFields;
  if (scenario.apps.endsWith('.csv')) {
    const lines = text.split('\n').filter((l) => l.trim() !== '');
    capFields = lines[0].split(', ').map((h) => h.replace(/ \[.*\]$/, ''));
    rows = lines.slice(1);
  } else {
    capFields = ['pid', 'process_name', 'used_gpu_memory', 'gpu_uuid'];
    const blocks = text.split(/^# .*$/m).map((b) => b.split('\n').filter((l) => l.trim() !== ''));
    rows = blocks[1 + (Math.floor(Date.now() / 500) % (blocks.length - 1))] || [];
  }
  const out = [];
  for (const line of rows) {
    const cells = line.split(', ');
    const row = Object.fromEntries(capFields.map((f, i) => [f, cells[i].replace(/ MiB$/, '')]));
    if (env.FAKE_SMI_APPS_SELF === '1') {
      row.pid = String(process.ppid);
      row.process_name = fs.readFileSync(`/proc/${process.ppid}/comm`, 'utf8').trim();
    }
    out.push(fields.map((f) => {
      const v = row[f] ?? '[N/A]';
      return !nounits && f === 'used_gpu_memory' && !v.startsWith('[') ? `${v} MiB` : v;
    }).join(', '));
  }
  if (!noheader) process.stdout.write(`${fields.join(', ')}\n`);
  if (out.length) process.stdout.write(`${out.join('\n')}\n`);
}

if (mode === 'gpu') queryGpu();
else if (mode === 'apps') computeApps();
else if (mode === 'xml') process.stdout.write(read(scenario.xml));
else fail(`fake nvidia-smi: unsupported arguments ${argv.join(' ')}`, 2);
