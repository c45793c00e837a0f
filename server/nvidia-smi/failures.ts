/**
 * Pure reading of how an nvidia-smi run failed: its exit code, signal and output (formats.md §1.6). Each
 * failure becomes one message that says what happened and what to do, for the banner and /api/health.
 */

export type SmiFailureKind =
  | 'no-devices'
  | 'driver'
  | 'not-found'
  | 'rejected-field'
  | 'nvml-mismatch'
  | 'no-permission'
  | 'bad-arguments'
  | 'crashed'
  | 'exited';

export interface SmiFailure {
  kind: SmiFailureKind;
  /** One line for a person: what happened and what to do. */
  message: string;
  /** The field the driver rejected (`rejected-field` only): query again without it. */
  field: string | null;
}

/** `Field "memory.reserved" is not a valid field to query.` → `memory.reserved`. */
export function rejectedField(output: string): string | null {
  const m = /Field "([^"]+)" is not a valid field to query/i.exec(output);
  return m?.[1] ?? null;
}

/** The first meaningful line of nvidia-smi's output, bounded, for a message. */
export function firstLine(output: string, max = 200): string {
  const line = output.split('\n').map((l) => l.trim()).find((l) => l !== '') ?? '';
  return line.length > max ? `${line.slice(0, max)}…` : line;
}

export function classifySmiExit(code: number | null, signal: string | null, output: string): SmiFailure {
  const said = firstLine(output);
  const quoted = said ? ` ("${said}")` : '';
  const field = rejectedField(output);
  if (field) {
    return { kind: 'rejected-field', field, message: `this driver rejects the field ${field}; querying without it` };
  }
  if (code === 6 || /No devices were found/i.test(output)) {
    return {
      kind: 'no-devices',
      field: null,
      message: `nvidia-smi found no GPUs (exit ${code ?? '?'}${quoted}). Check \`nvidia-smi -L\`; in a container, start it with --gpus all. Retrying.`,
    };
  }
  if (code === 9 || /couldn't communicate with the NVIDIA driver/i.test(output)) {
    return {
      kind: 'driver',
      field: null,
      message: `nvidia-smi cannot talk to the NVIDIA driver (exit ${code ?? '?'}): the driver is not loaded or is being updated. Load it (or reboot after a driver update). Retrying.`,
    };
  }
  if (/Driver\/library version mismatch/i.test(output)) {
    return {
      kind: 'nvml-mismatch',
      field: null,
      message: `NVML and the loaded driver differ in version${quoted}: reboot (or reload the nvidia kernel module) after the driver update. Retrying.`,
    };
  }
  if (code === 127 || code === 126) {
    return {
      kind: 'not-found',
      field: null,
      message: `nvidia-smi could not be run (exit ${code}${quoted}): check the path given to --nvidia-smi, or install the NVIDIA driver utilities. Retrying.`,
    };
  }
  if (code === 2) {
    return {
      kind: 'bad-arguments',
      field: null,
      message: `nvidia-smi rejected Headroom's arguments (exit 2${quoted}): this nvidia-smi is older or newer than Headroom knows; update the NVIDIA driver, or report the message. Retrying.`,
    };
  }
  if (code === 4) {
    return { kind: 'no-permission', field: null, message: `nvidia-smi has no permission (exit 4${quoted}). Run the agent as a user that may query the GPUs. Retrying.` };
  }
  if (signal !== null || (code !== null && code > 128)) {
    return { kind: 'crashed', field: null, message: `nvidia-smi crashed (${signal ?? `exit ${code}`}${quoted}); restarting.` };
  }
  return { kind: 'exited', field: null, message: `nvidia-smi exited (exit ${code ?? '?'}${quoted}); restarting.` };
}

/** Messages for spawn errors (the binary is missing or not executable). */
export function spawnErrorMessage(path: string, code: string | undefined): string {
  if (code === 'ENOENT') return `nvidia-smi not found at ${path}: install the NVIDIA driver or pass --nvidia-smi <path>. Retrying.`;
  if (code === 'EACCES') return `${path} is not executable (EACCES): check its permissions or pass another --nvidia-smi. Retrying.`;
  return `cannot start ${path} (${code ?? 'unknown error'}). Retrying.`;
}
