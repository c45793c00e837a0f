import { describe, expect, it } from 'vitest';
import { redactUrl, WebhookDelivery, webhookPayload } from '../../../server/alerts/webhook.ts';
import { AlertConfigSchema, type AlertEvent } from '../../../shared/alerts.ts';

function ev(key: string, transition: AlertEvent['transition'] = 'firing'): AlertEvent {
  return {
    transition,
    atMs: 1,
    alert: {
      id: `${key}@1`, key, rule: 'oom', severity: 'critical', state: transition === 'resolved' ? 'resolved' : 'firing',
      subject: { gpuUuid: null, gpuIndex: null, pid: 1 }, summary: `pid 1 <b>&</b> ${key}`, firedAtMs: 1, resolvedAtMs: null,
      evidence: { values: {}, thresholds: {}, conditionSinceMs: 1, observedAtMs: 1 }, resolvedEvidence: null,
    },
  };
}

const hook = (url: string, extra = {}) => AlertConfigSchema.shape.webhooks.parse([{ url, ...extra }])[0]!;

/** A fetch that answers from a list of statuses and records what it was sent. */
function fakeFetch(statuses: number[]) {
  const calls: { url: string; body: unknown }[] = [];
  const fn = (async (url: string | URL | Request, init?: RequestInit) => {
    calls.push({ url: String(url), body: JSON.parse(String(init?.body)) });
    const status = statuses.shift() ?? 200;
    return new Response(null, { status });
  }) as typeof fetch;
  return { fn, calls };
}

async function settle(d: WebhookDelivery): Promise<void> {
  for (let i = 0; i < 200 && d.status().some((s) => s.queued > 0); i++) await new Promise((r) => setTimeout(r, 5));
}

describe('webhook delivery', () => {
  it('retries 5xx with backoff, in order, and counts what it delivered', async () => {
    const f = fakeFetch([500, 503, 200, 200]);
    const d = new WebhookDelivery([hook('http://127.0.0.1:1/h', { maxAttempts: 3 })], { fetch: f.fn, backoffMs: 1 });
    d.send(ev('a'));
    d.send(ev('a', 'resolved'));
    await settle(d);
    expect(f.calls.map((c) => (c.body as AlertEvent).transition)).toEqual(['firing', 'firing', 'firing', 'resolved']);
    expect(d.status()[0]).toMatchObject({ delivered: 2, failed: 0, queued: 0 });
  });

  it('gives up after maxAttempts, does not retry a 4xx, and says so', async () => {
    const f = fakeFetch([500, 500, 404]);
    const d = new WebhookDelivery([hook('http://127.0.0.1:1/h?token=s3cret', { maxAttempts: 2 })], { fetch: f.fn, backoffMs: 1 });
    d.send(ev('a'));
    d.send(ev('b'));
    await settle(d);
    expect(f.calls).toHaveLength(3);
    const s = d.status()[0]!;
    expect(s).toMatchObject({ delivered: 0, failed: 2, target: 'http://127.0.0.1:1/h' });
    expect(s.lastError).toBe('firing b not delivered after 1 attempt: HTTP 404');
  });

  it('bounds its queue, dropping the oldest and counting it', async () => {
    const never = (() => new Promise<Response>(() => {})) as typeof fetch;
    const d = new WebhookDelivery([hook('http://127.0.0.1:1/h')], { fetch: never, maxQueue: 2 });
    for (const k of ['a', 'b', 'c', 'd']) d.send(ev(k));
    expect(d.status()[0]).toMatchObject({ queued: 2, failed: 2 });
    expect(d.status()[0]!.lastError).toMatch(/queue over 2 events/);
    d.close();
  });

  it('sends the event as JSON, or Slack text with its markup escaped', () => {
    expect(webhookPayload('json', ev('a'), 'gpu-host')).toMatchObject({ source: 'headroom', host: 'gpu-host', transition: 'firing', alert: { key: 'a' } });
    expect(webhookPayload('slack', ev('a'), 'gpu-host')).toEqual({ text: '🔴 *[FIRING] critical oom* on gpu-host: pid 1 &lt;b&gt;&amp;&lt;/b&gt; a' });
    expect(webhookPayload('slack', ev('a', 'resolved'), 'h')).toEqual({ text: '✅ *[RESOLVED] critical oom* on h: pid 1 &lt;b&gt;&amp;&lt;/b&gt; a' });
    expect(redactUrl('https://hooks.slack.com/services/T/B/x?token=1')).toBe('https://hooks.slack.com/services/T/B/x');
  });
});
