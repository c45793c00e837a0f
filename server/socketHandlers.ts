/** Client → server requests, each answered through an ack with `{ ok, data | error }`. */
import type { Socket } from 'socket.io';
import type { Ack, ClientToServerEvents, ServerToClientEvents } from '../shared/contract.ts';
import type { Inventory } from '../shared/data.ts';
import type { Hub } from './hub.ts';
import type { GpuSource } from './sources/types.ts';

export function registerSocketHandlers(
  socket: Socket<ClientToServerEvents, ServerToClientEvents>,
  deps: { hub: Hub; source: GpuSource },
): void {
  socket.on('inventory:refresh', async (ack) => {
    if (typeof ack !== 'function') return; // a client that sends no callback gets nothing
    let result: Ack<Inventory | null>;
    try {
      const inventory = await deps.source.refreshInventory();
      if (inventory) deps.hub.record({ kind: 'inventory', t: inventory.timestampMs, inventory });
      result = { ok: true, data: inventory };
    } catch (e) {
      result = { ok: false, error: e instanceof Error ? e.message : String(e) };
    }
    ack(result);
  });
}
