/**
 * Container PID mismatch: nvidia-smi reports the PIDs of the host's PID namespace. In a container without
 * `--pid=host` those PIDs do not exist here (or belong to another program), so joining GPU processes with
 * PyTorch logs by PID fails. A PID is a mismatch when /proc has no such process, or its command name differs
 * from nvidia-smi's process name (neither a prefix of the other); it counts only when it mismatches in two polls in a row (a process that
 * just exited is no evidence).
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import type { GpuProcess } from '../../../shared/data.ts';
import type { SourceWarning } from '../../../shared/source.ts';

/** What /proc says of a PID: its command name, null when there is no such process; undefined: cannot tell. */
export type ProcLookup = (pid: number) => string | null | undefined;

export const procLookup: ProcLookup = (pid) => {
  if (process.platform !== 'linux') return undefined;
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT' ? null : undefined;
  }
};

/** True when `pid` as seen here is not the process nvidia-smi names. Linux truncates comm to 15 characters. */
export function pidMismatches(p: GpuProcess, lookup: ProcLookup): boolean {
  const comm = lookup(p.pid);
  if (comm === undefined) return false;
  if (comm === null) return true;
  if (!p.name) return false;
  const expected = basename(p.name.replace(/\\/g, '/')).slice(0, 15);
  const actual = comm.slice(0, 15);
  // `python` started through a symlink may be `python3.12` to the other side: a prefix is the same program.
  return !(actual.startsWith(expected) || expected.startsWith(actual));
}

export class PidNamespaceCheck {
  #previous = new Set<number>();

  constructor(readonly lookup: ProcLookup = procLookup) {}

  /** Feed one poll; a warning while some PID mismatched in this poll and the one before. */
  check(processes: readonly GpuProcess[]): SourceWarning | null {
    const now = new Set(processes.filter((p) => pidMismatches(p, this.lookup)).map((p) => p.pid));
    const confirmed = [...now].filter((pid) => this.#previous.has(pid));
    this.#previous = now;
    if (confirmed.length === 0) return null;
    const shown = confirmed.slice(0, 5).join(', ');
    return {
      code: 'pid-namespace',
      message: `nvidia-smi reports PIDs that are not this host's processes (${shown}${confirmed.length > 5 ? ', …' : ''}): the agent runs in another PID namespace (a container?). GPU processes cannot be matched to PyTorch logs by PID; run the agent with --pid=host, or on the host.`,
    };
  }
}
