/** Start a real agent on port 0 for a test, with its log silenced, and a typed socket.io client for it. */
import { io as connect, type Socket } from 'socket.io-client';
import { startAgent, type Agent, type AgentOptions } from '../../server/agent.ts';
import { parseCli } from '../../server/config.ts';
import { setLogQuiet } from '../../server/log.ts';
import type { ClientToServerEvents, ServerToClientEvents } from '../../shared/contract.ts';

export type TestSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

export async function startTestAgent(args: string[], options: AgentOptions = {}): Promise<Agent> {
  setLogQuiet(true);
  const parsed = parseCli(['--port', '0', ...args], {});
  if (parsed.help) throw new Error('unexpected --help');
  return startAgent(parsed.config, options);
}

export function connectClient(agent: Agent, auth: Record<string, string> = {}): TestSocket {
  return connect(agent.url, { transports: ['websocket'], forceNew: true, reconnection: false, auth });
}

/** Resolve with the first `event` payload (or the first `count`), rejecting after `timeoutMs`. */
export function waitForEvents<E extends keyof ServerToClientEvents>(
  socket: TestSocket,
  event: E,
  count = 1,
  timeoutMs = 10_000,
): Promise<Parameters<ServerToClientEvents[E]>[0][]> {
  type Payload = Parameters<ServerToClientEvents[E]>[0];
  return new Promise((resolve, reject) => {
    const got: Payload[] = [];
    const timer = setTimeout(() => {
      socket.off(event, onEvent as never);
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${count} "${String(event)}" events (got ${got.length})`));
    }, timeoutMs);
    const onEvent = (payload: Payload): void => {
      got.push(payload);
      if (got.length >= count) {
        clearTimeout(timer);
        socket.off(event, onEvent as never);
        resolve(got);
      }
    };
    socket.on(event, onEvent as never);
  });
}
