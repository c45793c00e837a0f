/**
 * Pure bookkeeping of the GPUs the stream reports: which are unhealthy (`[GPU is lost]`, `[GPU requires
 * reset]`, `[Unknown Error]` in their row) and which stopped appearing. A GPU missing from 3 ticks in a row
 * is retired (it fell off the bus, or was taken away); it comes back if it reappears.
 */
import type { GpuHealth, GpuSample } from '../../../shared/data.ts';
import type { SourceWarning } from '../../../shared/source.ts';

export const MISSED_TICKS_TO_RETIRE = 3;

interface Seen {
  uuid: string;
  index: number;
  name: string | null;
  missed: number;
  retired: boolean;
  health: GpuHealth;
}

export interface RosterChange {
  retired: string[];
  /** Warning codes to set (a warning) or clear (null). */
  warnings: Map<string, SourceWarning | null>;
}

const HEALTH_TEXT: Record<Exclude<GpuHealth, 'ok'>, string> = {
  lost: 'reports [GPU is lost]: it has fallen off the bus. Its memory cannot be read; a reboot (or `nvidia-smi -r`) is needed',
  'reset-required': 'reports [GPU requires reset]: reset it (`nvidia-smi -r -i <index>`) or reboot',
  'unknown-error': 'reports [Unknown Error] for some values: they show as N/A; check `dmesg` for Xid errors',
};

function describe(g: Pick<Seen, 'index' | 'name' | 'uuid'>): string {
  return `GPU ${g.index}${g.name ? ` (${g.name}, ${g.uuid})` : ` (${g.uuid})`}`;
}

export class GpuRoster {
  #gpus = new Map<string, Seen>();

  update(samples: readonly GpuSample[], nowMs: number): RosterChange {
    const change: RosterChange = { retired: [], warnings: new Map() };
    const present = new Set(samples.map((s) => s.uuid));
    for (const s of samples) {
      const known = this.#gpus.get(s.uuid);
      const seen: Seen = { uuid: s.uuid, index: s.index, name: s.name ?? known?.name ?? null, missed: 0, retired: false, health: s.health };
      if (known?.retired) change.warnings.set(`gpu-gone:${s.uuid}`, null);
      this.#gpus.set(s.uuid, seen);
      if (s.health === 'ok') {
        if (known && known.health !== 'ok') change.warnings.set(`gpu-health:${s.uuid}`, null);
      } else {
        change.warnings.set(`gpu-health:${s.uuid}`, { code: `gpu-health:${s.uuid}`, message: `${describe(seen)} ${HEALTH_TEXT[s.health]}.` });
      }
    }
    for (const g of this.#gpus.values()) {
      if (present.has(g.uuid) || g.retired) continue;
      g.missed++;
      if (g.missed >= MISSED_TICKS_TO_RETIRE) {
        g.retired = true;
        change.retired.push(g.uuid);
        change.warnings.set(`gpu-health:${g.uuid}`, null);
        change.warnings.set(`gpu-gone:${g.uuid}`, {
          code: `gpu-gone:${g.uuid}`,
          message: `${describe(g)} stopped reporting at ${new Date(nowMs).toISOString()}: it may have fallen off the bus (look for Xid 79 in \`dmesg\`). Its history is retired.`,
        });
      }
    }
    return change;
  }

  /** Names of the GPUs still reporting, in index order. */
  names(): string[] {
    return [...this.#gpus.values()]
      .filter((g) => !g.retired)
      .sort((a, b) => a.index - b.index)
      .map((g) => g.name ?? 'GPU');
  }
}
