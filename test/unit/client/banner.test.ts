// @vitest-environment happy-dom
/** Source and connection state as the page shows it: replay, stale (no sample for a while), GPU lost, disconnected. */
import { flushSync, mount, unmount } from 'svelte';
import { afterEach, describe, expect, it } from 'vitest';
import SourceBanner from '../../../client/src/components/SourceBanner.svelte';
import { Dashboard, STALE_AFTER_MS } from '../../../client/src/lib/dashboard.svelte.ts';
import type { GpuSample } from '../../../shared/data.ts';
import type { SourceState } from '../../../shared/source.ts';

let app: ReturnType<typeof mount> | null = null;
afterEach(() => {
  if (app) unmount(app);
  app = null;
  document.body.innerHTML = '';
});

/** The first GPU sample of the recorded H200 session (server/recordings/h200-serving.jsonl). */
async function firstGpu(): Promise<GpuSample> {
  return {
    timestampMs: 1795234913189, index: 0, uuid: 'GPU-ccae4e7e-d1ae-910a-959f-bd978205491d', name: 'NVIDIA H200', busId: null,
    totalBytes: 150754820096, reservedBytes: 645922816, usedBytes: 0, freeBytes: 150109945856, utilizationGpuPercent: 0,
    utilizationMemoryPercent: 0, temperatureC: 33, powerDrawW: 121.26, powerLimitW: null, pstate: null, health: 'ok',
  };
}

const replay: SourceState = {
  kind: 'replay', status: 'running', label: 'Replay of a recorded session on NVIDIA H200 — not live', message: null, sinceMs: 0,
  replay: { fileName: 'h200-serving.jsonl', description: 'Real serving session', recordingStartMs: 0, recordingEndMs: 1, offsetMs: 42, loop: 0 },
};

describe('feed state', () => {
  it('is replay while ticks arrive, stale after STALE_AFTER_MS without one, disconnected when the socket drops', async () => {
    const d = new Dashboard();
    expect(d.feed).toBe('waiting');
    d.connection = 'connected';
    d.source = replay;
    d.applyTick({ timestampMs: 1, gpus: [await firstGpu()] });
    d.wallNowMs = d.lastTickWallMs ?? 0;
    expect(d.feed).toBe('replay');
    d.wallNowMs += STALE_AFTER_MS + 1;
    expect(d.feed).toBe('stale');
    d.connection = 'disconnected';
    expect(d.feed).toBe('disconnected');
  });
});

describe('SourceBanner', () => {
  it('says it is a replay, with the offset that maps shown times back to the recording', () => {
    app = mount(SourceBanner, { target: document.body, props: { source: replay, connection: 'connected', connectionError: null, feed: 'replay', gpus: [], lastTickWallMs: 0, wallNowMs: 0 } });
    flushSync();
    const b = document.querySelector('[data-testid="source-banner"]');
    expect(b?.textContent).toContain('not live');
    expect(b?.getAttribute('data-offset-ms')).toBe('42');
  });

  it('warns when the data is stale, and raises an alert for a GPU that fell off the bus', async () => {
    const lost = { ...(await firstGpu()), health: 'lost' as const, usedBytes: null, freeBytes: null };
    app = mount(SourceBanner, { target: document.body, props: { source: replay, connection: 'connected', connectionError: null, feed: 'stale', gpus: [lost], lastTickWallMs: 0, wallNowMs: 12_000 } });
    flushSync();
    expect(document.querySelector('[data-testid="source-banner"]')?.textContent).toContain('Stale: no GPU sample for 12.0 s');
    const health = document.querySelector('[data-testid="gpu-health-banner"]');
    expect(health?.getAttribute('role')).toBe('alert');
    expect(health?.textContent).toContain('GPU 0: GPU lost');
  });

  it('says so when the agent is unreachable', () => {
    app = mount(SourceBanner, { target: document.body, props: { source: replay, connection: 'disconnected', connectionError: 'xhr poll error', feed: 'disconnected', gpus: [], lastTickWallMs: null, wallNowMs: 0 } });
    flushSync();
    expect(document.querySelector('[data-testid="source-banner"]')?.textContent?.trim()).toBe('Disconnected from the agent: xhr poll error. Retrying…');
  });
});
