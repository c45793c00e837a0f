/**
 * The page's alerts, fed by the socket: the connect snapshot's `alerts`, then one `alert` event per state
 * change and `alertDelivery` when a webhook or the alert log fails or recovers. Alerts are computed on the
 * server; this only mirrors them (bounded) for the panel, the per-GPU badges and browser notifications.
 */
import type { Alert, AlertEvent, AlertSeverity, AlertsSnapshot, WebhookStatus } from '../../../shared/alerts.ts';
import type { HeadroomSocket } from './socket.ts';

export const RECENT_CAPACITY = 50;

export interface GpuBadge {
  severity: AlertSeverity;
  count: number;
}

export class AlertsState {
  active = $state.raw<Alert[]>([]);
  recent = $state.raw<Alert[]>([]);
  webhooks = $state.raw<WebhookStatus[]>([]);
  logFile = $state<string | null>(null);
  logError = $state<string | null>(null);
  /** Whether a snapshot arrived (before it, the panel says "connecting"). */
  loaded = $state(false);
  #listeners = new Set<(e: AlertEvent) => void>();

  /** Worst active severity and count per GPU uuid. */
  readonly badges: Record<string, GpuBadge> = $derived.by(() => {
    const out: Record<string, GpuBadge> = {};
    for (const a of this.active) {
      const uuid = a.subject.gpuUuid;
      if (!uuid) continue;
      const cur = out[uuid];
      out[uuid] = { severity: cur?.severity === 'critical' || a.severity === 'critical' ? 'critical' : 'warning', count: (cur?.count ?? 0) + 1 };
    }
    return out;
  });

  /** Alerts about no GPU in particular (the source). */
  readonly global: Alert[] = $derived(this.active.filter((a) => a.subject.gpuUuid === null));

  applySnapshot(s: AlertsSnapshot | undefined): void {
    if (!s) return;
    this.active = sortActive(s.active);
    this.recent = s.recent.slice(0, RECENT_CAPACITY);
    this.webhooks = s.webhooks;
    this.logFile = s.logFile;
    this.logError = s.logError;
    this.loaded = true;
  }

  applyEvent(e: AlertEvent): void {
    const others = this.active.filter((a) => a.key !== e.alert.key);
    if (e.alert.state === 'firing') this.active = sortActive([...others, e.alert]);
    else {
      this.active = others;
      this.recent = [e.alert, ...this.recent.filter((a) => a.id !== e.alert.id)].slice(0, RECENT_CAPACITY);
    }
    for (const l of this.#listeners) l(e);
  }

  applyDelivery(d: { webhooks: WebhookStatus[]; logError: string | null }): void {
    this.webhooks = d.webhooks;
    this.logError = d.logError;
  }

  /** Each state change after the snapshot (browser notifications listen here). */
  onEvent(fn: (e: AlertEvent) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** `GET /api/alerts` (with the page's `?token=` when there is one). */
  async load(): Promise<void> {
    try {
      const token = new URLSearchParams(window.location.search).get('token');
      const res = await fetch('api/alerts', { headers: token ? { Authorization: `Bearer ${token}` } : {} });
      if (res.ok) this.applySnapshot((await res.json()) as AlertsSnapshot);
    } catch {
      // the socket's next snapshot fills it in
    }
  }

  attach(socket: HeadroomSocket): () => void {
    const onSnapshot = (s: { alerts?: AlertsSnapshot }): void => this.applySnapshot(s.alerts);
    const onAlert = (e: AlertEvent): void => this.applyEvent(e);
    const onDelivery = (d: { webhooks: WebhookStatus[]; logError: string | null }): void => this.applyDelivery(d);
    socket.on('snapshot', onSnapshot);
    socket.on('alert', onAlert);
    socket.on('alertDelivery', onDelivery);
    // Mounted after the connect snapshot went by: load the current state once.
    if (socket.connected) void this.load();
    return () => {
      socket.off('snapshot', onSnapshot);
      socket.off('alert', onAlert);
      socket.off('alertDelivery', onDelivery);
    };
  }
}

/** Critical first, then newest first. */
function sortActive(alerts: Alert[]): Alert[] {
  return [...alerts].sort((a, b) => (a.severity === b.severity ? b.firedAtMs - a.firedAtMs : a.severity === 'critical' ? -1 : 1));
}

/** The page's one alerts state: the panel attaches it, badges read it. */
export const alerts = new AlertsState();
