/**
 * Hub → `attribution` socket event: runs the tracker on every record and, on each GPU tick (or PyTorch
 * sample when there is no GPU data), computes a frame and emits it, at most every `minIntervalMs` (a
 * trailing timer sends the newest when ticks come faster, e.g. a fast replay). Markers are never lost to
 * throttling: a frame carries every marker since the previous one, and an OOM sends a frame at once. The latest frame and recent markers
 * go into the connect snapshot.
 */
import type { AttributionFrame, AttributionSnapshot } from '../../shared/attribution.ts';
import type { Hub } from '../hub.ts';
import { createLogger } from '../log.ts';
import { AttributionTracker } from './tracker.ts';

const log = createLogger('attribution');

export interface AttributionEmitter {
  emit(frame: AttributionFrame): void;
}

export interface AttributionHandle {
  snapshot(): AttributionSnapshot;
  latest(): AttributionFrame | null;
  detach(): void;
}

export function attachAttribution(hub: Hub, out: AttributionEmitter, options: { minIntervalMs?: number; now?: () => number } = {}): AttributionHandle {
  const tracker = new AttributionTracker();
  const minIntervalMs = options.minIntervalMs ?? 100;
  const now = options.now ?? Date.now;
  let latest: AttributionFrame | null = null;
  let lastEmitMs = -Infinity;
  let timer: NodeJS.Timeout | null = null;

  const send = (): void => {
    timer = null;
    try {
      latest = tracker.frame();
      lastEmitMs = now();
      out.emit(latest);
    } catch (e) {
      log.error('attribution failed', { error: String(e) });
    }
  };

  const unsubscribe = hub.subscribe({
    record(r) {
      const due = tracker.ingest(r);
      if (r.kind === 'torchEvent' && r.event.kind === 'oom') {
        if (timer) clearTimeout(timer);
        send(); // an OOM is shown at once, with the memory state that led to it
        return;
      }
      if (!due || timer) return;
      const wait = lastEmitMs + minIntervalMs - now();
      if (wait <= 0) send();
      else {
        timer = setTimeout(send, wait);
        timer.unref();
      }
    },
  });

  return {
    snapshot: () => ({ latest, markers: tracker.markers() }),
    latest: () => latest,
    detach() {
      unsubscribe();
      if (timer) clearTimeout(timer);
      timer = null;
    },
  };
}
