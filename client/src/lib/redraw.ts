/**
 * Spreads chart redraws over animation frames. Each frame runs queued redraws, oldest request first, until a
 * time budget is spent (at least one per frame), so nine charts that want to redraw on the same tick cost a
 * few smooth frames instead of one long one.
 */

/** Work per frame before the rest waits for the next frame (a 60 Hz frame is 16.7 ms). */
export const FRAME_BUDGET_MS = 6;

const queue = new Set<() => void>();
let frame = 0;

function run(): void {
  frame = 0;
  const start = performance.now();
  for (const job of queue) {
    queue.delete(job);
    job();
    if (performance.now() - start >= FRAME_BUDGET_MS) break;
  }
  if (queue.size > 0) frame = requestAnimationFrame(run);
}

export function requestRedraw(job: () => void): void {
  queue.add(job);
  if (frame === 0) frame = requestAnimationFrame(run);
}

export function cancelRedraw(job: () => void): void {
  queue.delete(job);
}
