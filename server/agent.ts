/**
 * Wires one agent: configuration → source → hub → express + socket.io. `startAgent` resolves once the
 * server listens and the source runs; `close()` stops both. Used by main.ts and by the integration tests.
 */
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import type { AgentModel, ClientToServerEvents, ServerToClientEvents } from '../shared/contract.ts';
import { tokenFromCookieHeader, tokenMatches } from './auth.ts';
import { startAlerts, type Alerts } from './alerts/index.ts';
import { attachAttribution } from './attribution/listener.ts';
import { attachBroadcast } from './broadcast.ts';
import { ConfigError, type Config } from './config.ts';
import { resolveModelArg } from './estimate/model.ts';
import { createHttpApp, findClientDir } from './http.ts';
import { Hub } from './hub.ts';
import { createLogger } from './log.ts';
import { RecordingWriter } from './recording/writer.ts';
import { registerSocketHandlers } from './socketHandlers.ts';
import { createSource } from './sources/index.ts';
import type { GpuSource } from './sources/types.ts';
import { startTorchInputs, type TorchInputs } from './torch/inputs.ts';
import { SERVER_VERSION } from './version.ts';

const log = createLogger('agent');

/** `--model` for the dashboard: resolved once (header reads only); a failure is logged here, not sent with its path. */
function resolveAgentModel(arg: string | null): AgentModel | null {
  if (arg === null) return null;
  try {
    const r = resolveModelArg(arg);
    return { ok: true, label: r.model.name, spec: r.model, weightsBytesExact: r.weightsBytesExact, scheme: r.scheme };
  } catch (e) {
    log.warn(`--model ${arg}: ${e instanceof Error ? e.message : String(e)}; the dashboard predicts from the PyTorch hook's reports instead`);
    return { ok: false, error: 'the --model argument could not be read (see the agent log)' };
  }
}

export interface Agent {
  url: string;
  port: number;
  hub: Hub;
  source: GpuSource;
  io: Server<ClientToServerEvents, ServerToClientEvents>;
  alerts: Alerts;
  close(): Promise<void>;
}

export interface AgentOptions {
  /** Override the source (tests); default from the config. */
  source?: GpuSource;
  clientDir?: string;
}

function listen(server: HttpServer, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException): void => {
      server.off('listening', onListening);
      if (e.code === 'EADDRINUSE') reject(new ConfigError(`port ${port} on ${host} is in use; pass --port <n> (0 picks a free one)`));
      else if (e.code === 'EADDRNOTAVAIL') reject(new ConfigError(`cannot bind ${host}: no such local address; pass --host 127.0.0.1 or an address of this machine`));
      else if (e.code === 'EACCES') reject(new ConfigError(`no permission to listen on port ${port}; pass --port above 1023`));
      else reject(e);
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve(server.address() as AddressInfo);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

export async function startAgent(config: Config, options: AgentOptions = {}): Promise<Agent> {
  const source = options.source ?? createSource(config);
  const hub = new Hub({
    serverVersion: SERVER_VERSION,
    initialSource: { kind: source.kind, status: 'starting', label: 'Starting…', message: null, sinceMs: Date.now(), replay: null },
  });
  const httpServer = createServer();
  const io = new Server<ClientToServerEvents, ServerToClientEvents>(httpServer, {
    serveClient: false,
    cors: { origin: false },
    maxHttpBufferSize: 64 * 1024,
  });
  // Everything started so far, stopped in reverse order by close() or when a later start-up step fails.
  const teardown: Array<() => unknown> = [() => new Promise<void>((resolve) => io.close(() => resolve()))];
  const stopAll = async (): Promise<void> => {
    for (const step of teardown.splice(0).reverse()) {
      try {
        await step();
      } catch (e) {
        log.error('stopping a part of the agent failed', { error: String(e) });
      }
    }
  };

  let alerts: Alerts;
  let address: AddressInfo;
  try {
    // Alerts run on the server (rules, webhooks, alert log, GET /api/alerts); a bad --config throws here.
    alerts = await startAlerts({ hub, io, config, sourceKind: source.kind });
    const started = alerts;
    teardown.push(() => started.close());
    const app = createHttpApp({
      hub,
      token: config.token,
      clientDir: findClientDir(options.clientDir),
      clientCount: () => io.engine.clientsCount,
      apiRouters: [alerts.router],
    });
    httpServer.on('request', app);

    if (config.token) {
      const token = config.token;
      io.use((socket, next) => {
        const given = socket.handshake.auth?.token ?? tokenFromCookieHeader(socket.handshake.headers.cookie);
        if (tokenMatches(token, typeof given === 'string' ? given : null)) next();
        else next(new Error('access token required'));
      });
    }
    const agentModel = resolveAgentModel(config.model);
    const { enabled, headroom, forecast } = alerts.engine.config;
    const alertSettings = { enabled, headroom, maxBatch: forecast.maxBatch, maxSeqLen: forecast.maxSeqLen };
    io.on('connection', (socket) => {
      socket.emit('snapshot', { ...hub.snapshot(), agentModel, alertSettings });
      registerSocketHandlers(socket, { hub, source });
    });
    teardown.push(attachBroadcast(io, hub));
    const attribution = attachAttribution(hub, { emit: (frame) => io.emit('attribution', frame) });
    hub.attributionSnapshot = attribution.snapshot;
    teardown.push(() => attribution.detach());

    // --record: the live session, appended as it arrives (format v1).
    if (config.recordFile && source.kind !== 'live') log.warn('--record records the live source; ignored while replaying');
    else if (config.recordFile) {
      const recorder = await RecordingWriter.open({ file: config.recordFile });
      teardown.push(() => recorder.close());
      hub.subscribe({ record: (r) => recorder.append(r) });
    }

    address = await listen(httpServer, config.port, config.host);
    await source.start(hub);
    teardown.push(() => source.stop());
    // --torch-log / --torch-trace-dir: PyTorch's own view of its memory, joined with nvidia-smi by attribution.
    const torch: TorchInputs = await startTorchInputs(config, hub);
    teardown.push(() => torch.stop());
  } catch (e) {
    await stopAll();
    throw e;
  }
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${shownHost}:${address.port}/`;
  log.debug('agent started', { url, source: source.kind });

  return {
    url,
    port: address.port,
    hub,
    source,
    io,
    alerts,
    async close() {
      await stopAll();
    },
  };
}
