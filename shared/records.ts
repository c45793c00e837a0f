/** Pure helpers over data records. */
import type { DataRecord } from './data.ts';

/** Move a record in time by `offsetMs` (its `t` and every timestamp inside), as replay does to play "as if live". */
export function shiftRecord(r: DataRecord, offsetMs: number): DataRecord {
  const t = r.t + offsetMs;
  switch (r.kind) {
    case 'gpu':
      return { ...r, t, gpus: r.gpus.map((g) => ({ ...g, timestampMs: g.timestampMs + offsetMs })) };
    case 'processes':
      return { ...r, t };
    case 'host':
      return { ...r, t, host: { ...r.host, timestampMs: r.host.timestampMs + offsetMs } };
    case 'torch':
      return { ...r, t, sample: { ...r.sample, timestampMs: r.sample.timestampMs + offsetMs } };
    case 'torchEvent':
      return { ...r, t, event: { ...r.event, timestampMs: r.event.timestampMs + offsetMs } };
    case 'inventory':
      return { ...r, t, inventory: { ...r.inventory, timestampMs: r.inventory.timestampMs + offsetMs } };
  }
}
