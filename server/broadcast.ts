/**
 * Hub → socket.io. Snapshot on connect, then deltas: GPU ticks and PyTorch samples volatile (a slow tab
 * gets the newest frame, not a backlog), everything else reliable. No work when nobody is connected.
 */
import type { Server } from 'socket.io';
import type { ClientToServerEvents, ServerToClientEvents } from '../shared/contract.ts';
import type { Hub } from './hub.ts';

export type HeadroomServer = Server<ClientToServerEvents, ServerToClientEvents>;

export function attachBroadcast(io: HeadroomServer, hub: Hub): () => void {
  return hub.subscribe({
    record(r) {
      if (io.engine.clientsCount === 0) return;
      switch (r.kind) {
        case 'gpu':
          io.volatile.emit('gpu', { timestampMs: r.t, gpus: r.gpus });
          break;
        case 'processes':
          io.emit('processes', { timestampMs: r.t, processes: r.processes });
          break;
        case 'host':
          io.volatile.emit('host', r.host);
          break;
        case 'inventory':
          io.emit('inventory', r.inventory);
          break;
        case 'torch':
          io.volatile.emit('torch', [r.sample]);
          break;
        case 'torchEvent':
          io.emit('torchEvent', r.event);
          break;
      }
    },
    state(s) {
      io.emit('source', s);
    },
  });
}
