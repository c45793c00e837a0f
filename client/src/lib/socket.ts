/** The one typed socket of the page. The token (when the agent needs one) comes from the page URL's `?token=`. */
import { io, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, ServerToClientEvents } from '../../../shared/contract.ts';

export type HeadroomSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

export function connectSocket(): HeadroomSocket {
  const token = new URLSearchParams(window.location.search).get('token');
  return io({ auth: token ? { token } : {}, transports: ['websocket', 'polling'] });
}
