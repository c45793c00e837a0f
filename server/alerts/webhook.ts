/**
 * Webhook delivery: each alert state change is POSTed as JSON to every configured URL (the AlertEvent, or a
 * Slack-compatible `{text}` payload), in order per URL, with a timeout per attempt and retries with
 * exponential backoff. It never blocks sampling: `send` only queues; a receiver that hangs costs its own
 * queue one timeout per attempt. The queue is bounded (oldest dropped, counted). Failures are logged and
 * kept in `status()` for the dashboard and `GET /api/alerts`.
 */
import { hostname } from 'node:os';
import type { AlertEvent, WebhookConfig, WebhookStatus } from '../../shared/alerts.ts';
import { createLogger } from '../log.ts';

const log = createLogger('alerts');

export interface WebhookOptions {
  /** First retry delay; doubled per attempt, capped at `maxBackoffMs`. */
  backoffMs?: number;
  maxBackoffMs?: number;
  maxQueue?: number;
  fetch?: typeof fetch;
}

const ICON = { firing: '🔴', escalated: '🔴', updated: 'ℹ️', renotify: '🔁', resolved: '✅' } as const;

/** Slack's mrkdwn needs &, < and > escaped. */
function slackEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function webhookPayload(format: WebhookConfig['format'], e: AlertEvent, host = hostname()): unknown {
  if (format === 'slack') {
    const a = e.alert;
    const state = e.transition === 'resolved' ? 'RESOLVED' : e.transition === 'renotify' ? 'STILL FIRING' : 'FIRING';
    return {
      text: `${ICON[e.transition]} *[${state}] ${a.severity} ${a.rule}* on ${slackEscape(host)}: ${slackEscape(a.summary)}`,
    };
  }
  return { source: 'headroom', host, ...e };
}

/** `fetch failed (ECONNREFUSED)`: undici hides the reason in `cause`. */
function describeFetchError(e: unknown): string {
  const err = e as Error & { cause?: { code?: string; message?: string } };
  const why = err.cause?.code ?? err.cause?.message;
  return why ? `${err.message} (${why})` : err.message;
}

/** Scheme, host and path: a URL's query often carries a token; never show it. */
export function redactUrl(url: string): string {
  const u = new URL(url);
  return `${u.protocol}//${u.host}${u.pathname}`;
}

interface Target {
  config: WebhookConfig;
  status: WebhookStatus;
  queue: AlertEvent[];
  busy: boolean;
}

export class WebhookDelivery {
  readonly #targets: Target[];
  readonly #backoffMs: number;
  readonly #maxBackoffMs: number;
  readonly #maxQueue: number;
  readonly #fetch: typeof fetch;
  readonly #abort = new AbortController();
  readonly #timers = new Set<NodeJS.Timeout>();
  #onChange: () => void = () => {};

  constructor(configs: readonly WebhookConfig[], options: WebhookOptions = {}) {
    this.#backoffMs = options.backoffMs ?? 1_000;
    this.#maxBackoffMs = options.maxBackoffMs ?? 30_000;
    this.#maxQueue = options.maxQueue ?? 200;
    this.#fetch = options.fetch ?? fetch;
    this.#targets = configs.map((config) => ({
      config,
      queue: [],
      busy: false,
      status: { target: redactUrl(config.url), format: config.format, delivered: 0, failed: 0, queued: 0, lastError: null, lastErrorAtMs: null, lastOkAtMs: null },
    }));
  }

  /** Called when a status changes (a delivery succeeded or failed). */
  onStatusChange(fn: () => void): void {
    this.#onChange = fn;
  }

  send(event: AlertEvent): void {
    for (const t of this.#targets) {
      t.queue.push(event);
      if (t.queue.length > this.#maxQueue) {
        t.queue.shift();
        this.#failed(t, `queue over ${this.#maxQueue} events: the oldest was dropped`);
      }
      t.status.queued = t.queue.length;
      if (!t.busy) void this.#drain(t);
    }
  }

  status(): WebhookStatus[] {
    return this.#targets.map((t) => ({ ...t.status }));
  }

  async #drain(t: Target): Promise<void> {
    t.busy = true;
    try {
      while (t.queue.length > 0 && !this.#abort.signal.aborted) {
        const event = t.queue[0] as AlertEvent;
        await this.#deliver(t, event);
        t.queue.shift();
        t.status.queued = t.queue.length;
      }
    } finally {
      t.busy = false;
    }
  }

  async #deliver(t: Target, event: AlertEvent): Promise<void> {
    const body = JSON.stringify(webhookPayload(t.config.format, event));
    for (let attempt = 1; attempt <= t.config.maxAttempts; attempt++) {
      if (this.#abort.signal.aborted) return;
      let error: string;
      let retry = true;
      try {
        const res = await this.#fetch(t.config.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'user-agent': 'headroom-alerts' },
          body,
          signal: AbortSignal.any([AbortSignal.timeout(t.config.timeoutMs), this.#abort.signal]),
          redirect: 'error',
        });
        await res.body?.cancel().catch(() => undefined);
        if (res.ok) {
          t.status.delivered++;
          t.status.lastOkAtMs = Date.now();
          this.#onChange();
          return;
        }
        error = `HTTP ${res.status} ${res.statusText}`.trim();
        // A 4xx other than 408/429 will not get better by retrying: the URL or payload is wrong.
        retry = res.status >= 500 || res.status === 408 || res.status === 429;
      } catch (e) {
        const name = (e as Error).name;
        error = name === 'TimeoutError' ? `no answer within ${t.config.timeoutMs} ms` : describeFetchError(e);
      }
      if (!retry || attempt === t.config.maxAttempts) {
        this.#failed(t, `${event.transition} ${event.alert.key} not delivered after ${attempt} attempt${attempt > 1 ? 's' : ''}: ${error}`);
        return;
      }
      t.status.lastError = `attempt ${attempt} failed: ${error}; retrying`;
      t.status.lastErrorAtMs = Date.now();
      this.#onChange();
      await this.#sleep(Math.min(this.#maxBackoffMs, this.#backoffMs * 2 ** (attempt - 1)));
    }
  }

  #failed(t: Target, message: string): void {
    t.status.failed++;
    t.status.lastError = message;
    t.status.lastErrorAtMs = Date.now();
    log.warn(`webhook ${t.status.target}: ${message}`);
    this.#onChange();
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        resolve();
      }, ms);
      this.#timers.add(timer);
    });
  }

  /** Stop: pending retries are abandoned, requests in flight aborted. */
  close(): void {
    this.#abort.abort();
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
  }
}
