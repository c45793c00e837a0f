/**
 * Alerts in the agent: settings from --config/--webhook/--alert-log, the engine fed by the hub, and its
 * deliveries: socket.io (`alert` per state change, `alertDelivery` when a webhook or the log fails or
 * recovers), webhooks, the alert log, and `GET /api/alerts`. Runs on the server, so alerts fire and reach
 * webhooks with no browser open.
 */
import { Router } from 'express';
import type { AlertsSnapshot } from '../../shared/alerts.ts';
import type { Config } from '../config.ts';
import type { Hub } from '../hub.ts';
import { createLogger } from '../log.ts';
import type { HeadroomServer } from '../broadcast.ts';
import { AlertLog } from './alertLog.ts';
import { AlertEngine } from './engine.ts';
import { loadAlertSettings } from './settings.ts';
import { WebhookDelivery, type WebhookOptions } from './webhook.ts';

const log = createLogger('alerts');

/** Resolved alerts kept for the snapshot and the API (the log keeps everything). */
const RECENT_IN_SNAPSHOT = 50;
const RECENT_IN_API = 200;
const TICK_MS = 1_000;

export interface Alerts {
  engine: AlertEngine;
  snapshot(recentMax?: number): AlertsSnapshot;
  /** `GET /api/alerts` (mount under /api). */
  router: Router;
  close(): Promise<void>;
}

export interface AlertsOptions {
  hub: Hub;
  io: HeadroomServer;
  config: Config;
  sourceKind: 'live' | 'replay';
  webhookOptions?: WebhookOptions;
}

/** Throws ConfigError for a bad --config; everything after start-up is caught and logged. */
export async function startAlerts(options: AlertsOptions): Promise<Alerts> {
  const { hub, io, config } = options;
  const settings = loadAlertSettings({
    configFile: config.configFile,
    webhooks: config.webhooks,
    alertLogFile: config.alertLogFile,
    // --record of a replay is ignored (nothing is recorded), so its alerts are not logged beside it either.
    recordFile: options.sourceKind === 'live' ? config.recordFile : null,
  });
  const alertLog = settings.logPath ? new AlertLog(settings.logPath) : null;
  const restored = alertLog ? (await alertLog.load()).events : [];
  const engine = new AlertEngine({ config: settings.config, model: config.model, restore: restored, lastSampleAgeMs: () => hub.lastSampleAgeMs() });
  const webhooks = new WebhookDelivery(settings.config.webhooks, options.webhookOptions);

  const snapshot = (recentMax = RECENT_IN_SNAPSHOT): AlertsSnapshot => ({
    active: engine.active(),
    recent: engine.recent(recentMax),
    webhooks: webhooks.status(),
    logFile: alertLog?.fileName ?? null,
    logError: alertLog?.error ?? null,
  });
  let lastLogError: string | null = null;
  const deliveryChanged = (): void => {
    if (io.engine.clientsCount > 0) io.emit('alertDelivery', { webhooks: webhooks.status(), logError: alertLog?.error ?? null });
  };
  webhooks.onStatusChange(deliveryChanged);

  engine.onEvent((e) => {
    const level = e.transition === 'resolved' || e.transition === 'updated' ? 'info' : 'warn';
    log[level](`${e.transition}: ${e.alert.summary}`, { key: e.alert.key });
    io.emit('alert', e);
    if (e.transition !== 'updated') webhooks.send(e);
    if (alertLog) {
      alertLog.append(e);
      void alertLog.flush().then(() => {
        if (alertLog.error !== lastLogError) {
          lastLogError = alertLog.error;
          deliveryChanged();
        }
      });
    }
  });
  const unsubscribe = hub.subscribe({ record: (r) => engine.ingest(r), state: (s) => engine.source(s) });
  hub.alertsSnapshot = () => snapshot();

  let timer: NodeJS.Timeout | null = null;
  const tick = (): void => {
    try {
      engine.tick();
    } catch (e) {
      log.error('alert tick failed; continuing', { error: String(e) });
    }
    timer = setTimeout(tick, TICK_MS);
    timer.unref();
  };
  tick();

  const router = Router();
  router.get('/alerts', (_req, res) => {
    res.json(snapshot(RECENT_IN_API));
  });

  if (settings.logPath) log.debug(`alert log: ${settings.logPath}`);
  else if (options.sourceKind === 'live') log.info('alert history is kept in memory only; pass --alert-log <file> (or --record) to keep it across restarts');
  return {
    engine,
    snapshot,
    router,
    async close() {
      if (timer) clearTimeout(timer);
      unsubscribe();
      webhooks.close();
      await alertLog?.flush();
    },
  };
}
