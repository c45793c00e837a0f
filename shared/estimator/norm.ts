/**
 * The norms of the replayed decoder, as allocations and frees against the caching-allocator model.
 */
import type { CachingAllocator, Handle } from './allocator.ts';
import type { ForwardShape } from './layers.ts';

type A = CachingAllocator;

/**
 * LlamaRMSNorm: x.to(fp32); variance = x.pow(2).mean(-1) (a local, freed on return); x * rsqrt(variance + eps);
 * weight * x.to(dtype). `gemma`: Gemma2RMSNorm, `_norm(x.float()) * (1 + weight.float())` then `type_as(x)`: the
 * variance is a temporary (freed at once) and the product stays fp32 until the final cast.
 */
export function rmsNorm(m: A, n: number, tokens: number, B: number, gemma = false): Handle | null {
  m.phase = 'RMSNorm fp32 temporaries';
  const x32 = B < 4 ? m.malloc(n * 4) : null;
  const pow = m.malloc(n * 4);
  const v = m.malloc(tokens * 4);
  m.free(pow);
  const ve = m.malloc(tokens * 4);
  if (gemma) m.free(v);
  const rs = m.malloc(tokens * 4);
  m.free(ve);
  const y32 = m.malloc(n * 4);
  m.free(rs);
  m.free(x32);
  if (gemma) {
    const prod = m.malloc(n * 4);
    m.free(y32);
    if (B === 4) return prod;
    const out = m.malloc(n * B);
    m.free(prod);
    return out;
  }
  const yb = B < 4 ? m.malloc(n * B) : null;
  const out = m.malloc(n * B);
  m.free(yb);
  m.free(y32);
  m.free(v);
  return out;
}

/** The model's norm: Llama-style RMSNorm or Gemma's. */
export function norm(m: A, s: ForwardShape, n: number, tokens: number): Handle | null {
  return rmsNorm(m, n, tokens, s.bytes, s.arch === 'gemma2');
}
