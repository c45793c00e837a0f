/**
 * The weights as PyTorch's caching allocator holds them after loading: segments (with their rounding and the
 * 20 MiB packing of 1–10 MiB tensors) and the free tails left inside them, which the forward can reuse.
 */
import { CachingAllocator, roundRequest, SMALL_BUFFER, SMALL_SIZE } from './allocator.ts';
import type { LayerGroupBytes } from './weights.ts';

/** Weights as the allocator holds them: reserved segments, and the free tails left in them (bytes). */
export interface ResidentLayout {
  reservedBytes: number;
  /** Cached free blocks inside the weights' segments, usable by the forward's 1–20 MiB requests. */
  freeBlocks: number[];
}

/**
 * Tensors allocated once and kept (weights), in model-construction order: the first body tensor (embedding),
 * every layer's tensors (each kind of layer in turn: DeepSeek's dense layers, then its MoE ones), then the rest
 * (final norm, lm_head). Nothing is freed, so once the packing of a layer
 * repeats (same cached blocks large enough for its tensors), later layers add the same segments and the same
 * too-small tails: those periods are extrapolated, the tails kept for the forward.
 */
export function residentLayout(groups: readonly LayerGroupBytes[], bodyTensors: readonly number[]): ResidentLayout & { key: string } {
  const key = `${groups.map((g) => `${g.sizes.join(',')}x${g.layers}`).join(';')}|${bodyTensors.join(',')}`;
  const hit = layoutMemo.get(key);
  if (hit) return hit;
  const r = { ...computeLayout(groups, bodyTensors), key };
  if (layoutMemo.size >= 256) layoutMemo.delete(layoutMemo.keys().next().value!);
  layoutMemo.set(key, r);
  return r;
}

const layoutMemo = new Map<string, ResidentLayout & { key: string }>();

/** Drop memoised weight layouts (benchmarks measure the cold path). */
export function clearLayoutMemo(): void {
  layoutMemo.clear();
}

function computeLayout(groups: readonly LayerGroupBytes[], bodyTensors: readonly number[]): ResidentLayout {
  const sim = new CachingAllocator();
  // Small tensors (norms, biases) share 2 MiB segments; they never touch the large pool.
  let small = 0;
  const [first, ...rest] = bodyTensors;
  const body = (t: number): void => {
    if (roundRequest(t) <= SMALL_SIZE) small += roundRequest(t);
    else sim.malloc(t);
  };
  if (first !== undefined) body(first);
  const large = groups.map((g) => g.sizes.filter((t) => roundRequest(t) > SMALL_SIZE));
  for (const g of groups) for (const t of g.sizes) if (roundRequest(t) <= SMALL_SIZE) small += roundRequest(t) * g.layers;
  let extra = 0;
  const extraTails: number[] = [];
  groups.forEach((g, k) => {
    // Tails smaller than every tensor still to come are dead: only they may accumulate period after period.
    let minLarge = Infinity;
    for (const later of large.slice(k)) for (const t of later) minLarge = Math.min(minLarge, roundRequest(t));
    const seen = new Map<number, { layer: number; reserved: number; dead: number[] }>();
    let skipped = false;
    for (let layer = 0; layer < g.layers; layer++) {
      for (const t of large[k]!) sim.malloc(t);
      if (skipped) continue;
      const sig = sim.freeSizesKey(minLarge);
      const prev = seen.get(sig);
      const dead = sim.freeList(minLarge);
      if (prev) {
        const period = layer - prev.layer;
        const periods = Math.floor((g.layers - 1 - layer) / period);
        extra += periods * (sim.reservedBytes - prev.reserved);
        // Dead tails only accumulate (never used, never freed): the period adds the same ones again.
        const added = multisetMinus(dead, prev.dead);
        for (let i = 0; i < periods; i++) extraTails.push(...added);
        layer += periods * period;
        skipped = true;
      } else seen.set(sig, { layer, reserved: sim.reservedBytes, dead });
    }
  });
  rest.forEach(body);
  return {
    reservedBytes: sim.reservedBytes + extra + Math.ceil(small / SMALL_BUFFER) * SMALL_BUFFER,
    freeBlocks: [...sim.freeList(), ...extraTails],
  };
}

function multisetMinus(a: number[], b: number[]): number[] {
  const left = new Map<number, number>();
  for (const x of b) left.set(x, (left.get(x) ?? 0) + 1);
  const out: number[] = [];
  for (const x of a) {
    const n = left.get(x) ?? 0;
    if (n > 0) left.set(x, n - 1);
    else out.push(x);
  }
  return out;
}

/** Reserved bytes of the weights (see residentLayout). */
export function residentReservedBytes(groups: readonly LayerGroupBytes[], bodyTensors: readonly number[]): number {
  return residentLayout(groups, bodyTensors).reservedBytes;
}
