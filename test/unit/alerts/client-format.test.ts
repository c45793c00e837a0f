import { describe, expect, it } from 'vitest';
import { evidenceLabel, formatAgo, formatEvidenceValue, notificationFor } from '../../../client/src/lib/alertsFormat.ts';
import type { AlertEvent } from '../../../shared/alerts.ts';
import { GiB } from '../../../shared/units.ts';

describe('alerts panel text', () => {
  it('formats evidence by its unit suffix', () => {
    expect(formatEvidenceValue('freeBytes', 3.25 * GiB)).toBe('3.3 GiB');
    expect(formatEvidenceValue('growthBytesPerSecond', 300 * 1024 * 1024)).toBe('300 MiB/s');
    expect(formatEvidenceValue('kvBytesPerToken', 131_072)).toBe('128 KiB/token');
    expect(formatEvidenceValue('timeToOomMs', 9_200)).toBe('9.2 s');
    expect(formatEvidenceValue('freePercent', 2.28)).toBe('2.28 %');
    expect(formatEvidenceValue('retriesRoseAtMs', null)).toBe('N/A');
    expect(formatEvidenceValue('category', 'weights')).toBe('weights');
    expect(formatEvidenceValue('oomAtMs', new Date(2026, 10, 21, 4, 22, 41, 5).getTime())).toBe('04:22:41.005');
    expect(evidenceLabel('warningFreeBelowBytes')).toBe('warning free below');
    expect(evidenceLabel('timeToOomBelowMs')).toBe('time to oom below');
    expect(evidenceLabel('oomAtMs')).toBe('oom at');
    expect(formatAgo(0, 400)).toBe('just now');
    expect(formatAgo(0, 12_000)).toBe('12.0 s ago');
  });

  it('notifies firing and escalations, not resolutions or re-notifications', () => {
    const alert = { id: 'oom:1@5', key: 'oom:1', rule: 'oom', severity: 'critical', state: 'firing', summary: 'pid 1 on GPU 0: CUDA out of memory' } as AlertEvent['alert'];
    expect(notificationFor({ transition: 'firing', atMs: 5, alert })).toEqual({ title: 'Headroom: critical oom', body: 'pid 1 on GPU 0: CUDA out of memory', tag: 'oom:1@5' });
    expect(notificationFor({ transition: 'escalated', atMs: 6, alert })?.tag).toBe('oom:1@5');
    expect(notificationFor({ transition: 'renotify', atMs: 7, alert })).toBeNull();
    expect(notificationFor({ transition: 'resolved', atMs: 8, alert: { ...alert, state: 'resolved' } })).toBeNull();
  });
});
