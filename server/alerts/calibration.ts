/**
 * The prediction calibrated from this run, per PyTorch process: the weights and KV bytes its hook reports,
 * the non-PyTorch memory measured for it (nvidia-smi's per-process used minus torch reserved), and the
 * transient per token seen in its prefills so far. These replace the estimator's assumptions when the
 * forecast asks "will this batch × length fit?". Pure: fed samples and events, read by the rules.
 */
import type { TorchEvent, TorchSample } from '../../shared/data.ts';

export interface Workload {
  batch: number;
  promptTokens: number;
  /** Generated tokens on top of the prompt (0 for a bare prefill). */
  newTokens: number;
}

export interface InFlight extends Workload {
  id: string;
  startedAtMs: number;
  allocatedBeforeBytes: number;
  reservedBeforeBytes: number;
}

export interface PeakPrediction {
  kvBytes: number;
  transientBytes: number;
  /** Allocated bytes at the peak: what is allocated now (or the weights) + KV + transient. */
  peakAllocatedBytes: number;
}

const NON_TORCH_KEEP = 21;

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : null;
}

function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? null;
}

export class Calibration {
  /** Bytes of the weights as the hook reported them (`weight_bytes`). */
  weightBytes: number | null = null;
  weightsAtMs: number | null = null;
  /** Torch reserved when the weights were reported loaded, and the most it held before the first request. */
  loadReservedBytes: number | null = null;
  /** Largest KV bytes per token measured (kv_bytes ÷ tokens held). */
  kvBytesPerToken: number | null = null;
  /** Largest transient per prefill token measured (peak − allocated before − KV at prefill, ÷ prompt tokens). */
  transientBytesPerToken: number | null = null;
  /** Measured requests (prefill or request with KV reported). */
  measuredRequests = 0;
  /** The newest measured KV against the tokens it held, for KV drift. */
  lastKv: { bytes: number; tokens: number; atMs: number } | null = null;
  inFlight: InFlight | null = null;
  /** The model facts the hook reported (`model`, `dtype`, `config`). */
  modelFacts: Record<string, unknown> | null = null;
  #nonTorch: number[] = [];
  #latest: TorchSample | null = null;
  #loadOpen = false;

  /** Median of the recent non-PyTorch measurements (samples are not simultaneous; the median ignores skew). */
  get nonTorchBytes(): number | null {
    return median(this.#nonTorch);
  }

  get calibrated(): boolean {
    return this.kvBytesPerToken !== null && this.transientBytesPerToken !== null;
  }

  sample(s: TorchSample): void {
    this.#latest = s;
    if (this.#loadOpen && this.loadReservedBytes !== null) this.loadReservedBytes = Math.max(this.loadReservedBytes, s.reservedBytes);
  }

  nonTorch(smiUsedBytes: number, torchReservedBytes: number): void {
    if (smiUsedBytes < torchReservedBytes) return; // samples straddle an allocation; skip
    this.#nonTorch.push(smiUsedBytes - torchReservedBytes);
    if (this.#nonTorch.length > NON_TORCH_KEEP) this.#nonTorch.shift();
  }

  event(e: TorchEvent): void {
    const f = e.facts;
    if (f.config !== undefined || f.dtype !== undefined || f.model !== undefined) {
      this.modelFacts = { ...this.modelFacts, ...pick(f, ['model', 'dtype', 'config']) };
    }
    const weights = num(f.weight_bytes);
    if (weights !== null) {
      this.weightBytes = weights;
      this.weightsAtMs = e.timestampMs;
      this.loadReservedBytes = this.#latest?.reservedBytes ?? null;
      this.#loadOpen = true;
    }
    if (e.kind === 'request_start' || (e.kind === 'phase' && e.name === 'prefill')) {
      const batch = num(f.batch);
      const prompt = num(f.prompt_tokens) ?? num(f.seq);
      if (batch !== null && prompt !== null) {
        this.#loadOpen = false;
        this.inFlight = {
          id: String(f.id ?? e.name ?? 'prefill'),
          batch,
          promptTokens: prompt,
          newTokens: num(f.max_new_tokens) ?? 0,
          startedAtMs: e.timestampMs,
          allocatedBeforeBytes: this.#latest?.allocatedBytes ?? 0,
          reservedBeforeBytes: this.#latest?.reservedBytes ?? 0,
        };
      }
      return;
    }
    const kv = num(f.kv_bytes);
    const peak = num(f.peak_allocated);
    const req = this.inFlight;
    const ends = e.kind === 'request_end' || (e.kind === 'phase' && e.name === 'prefill_done');
    if (ends && req && kv !== null && (e.kind === 'phase' || String(f.id) === req.id)) {
      // A bare prefill holds the prompt; a request's end holds prompt + generated tokens.
      const held = req.batch * (req.promptTokens + (e.kind === 'phase' ? 0 : req.newTokens));
      if (held > 0) {
        const perToken = kv / held;
        this.kvBytesPerToken = Math.max(this.kvBytesPerToken ?? 0, perToken);
        this.lastKv = { bytes: kv, tokens: held, atMs: e.timestampMs };
        const prefillTokens = req.batch * req.promptTokens;
        if (peak !== null && prefillTokens > 0) {
          const transient = peak - req.allocatedBeforeBytes - perToken * prefillTokens;
          if (transient >= 0) this.transientBytesPerToken = Math.max(this.transientBytesPerToken ?? 0, transient / prefillTokens);
        }
        this.measuredRequests++;
      }
      if (e.kind === 'request_end') this.inFlight = null;
      return;
    }
    if (e.kind === 'request_end' || e.kind === 'oom' || e.kind === 'end') this.inFlight = null;
  }

  /** Peak allocated bytes for a workload on top of `baseAllocatedBytes`; null until calibrated. */
  predict(w: Workload, baseAllocatedBytes: number): PeakPrediction | null {
    if (this.kvBytesPerToken === null || this.transientBytesPerToken === null) return null;
    const kvBytes = Math.round(this.kvBytesPerToken * w.batch * (w.promptTokens + w.newTokens));
    const transientBytes = Math.round(this.transientBytesPerToken * w.batch * w.promptTokens);
    return { kvBytes, transientBytes, peakAllocatedBytes: baseAllocatedBytes + kvBytes + transientBytes };
  }
}

function pick(o: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  return out;
}
