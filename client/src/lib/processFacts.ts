/**
 * What the PyTorch processes told us, folded from their events: the model each one serves (the hook's
 * `load_weights` phase facts: model, config, dtype), its weight bytes (`serving` facts), the request in flight
 * (`request_start` … `request_end`/`oom`) and its life (cuda_init … end). Pure: events in, facts out.
 */
import type { TorchEvent } from '../../../shared/data.ts';

/** Model-config fields as the hook reports them (a subset of an HF config.json). */
export type ReportedConfig = Record<string, unknown>;

export interface RequestShape {
  batch: number;
  promptTokens: number;
  maxNewTokens: number;
}

export interface RequestFacts {
  id: number | null;
  batch: number;
  promptTokens: number;
  maxNewTokens: number;
  startMs: number;
}

export interface ProcessFacts {
  pid: number;
  device: number | null;
  model: string | null;
  config: ReportedConfig | null;
  dtype: string | null;
  params: number | null;
  weightBytes: number | null;
  phase: string | null;
  /** The request in flight, or null between requests. */
  request: RequestFacts | null;
  /** The newest request seen (in flight or finished). */
  lastRequest: RequestFacts | null;
  /**
   * The largest batch and the longest prompt and generation among the requests served to the end: the run's
   * envelope, which the what-if follows as "the configured maximum" until the user sets one.
   */
  servedMax: RequestShape | null;
  /** KV-cache bytes the process reports now (`kv_cache` event, or a phase's `kv_bytes`), as attribution reads them. */
  kvCacheBytes: number | null;
  startedMs: number | null;
  endedMs: number | null;
  ooms: number;
}

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function str(v: unknown): string | null {
  return typeof v === 'string' && v.length > 0 ? v : null;
}

function emptyFacts(pid: number, device: number | null): ProcessFacts {
  return {
    pid, device, model: null, config: null, dtype: null, params: null, weightBytes: null, phase: null,
    request: null, lastRequest: null, servedMax: null, kvCacheBytes: null, startedMs: null, endedMs: null, ooms: 0,
  };
}

/** Fold one event into the facts of its process (returns a new object; the input is left alone). */
export function applyEvent(prev: ProcessFacts | undefined, e: TorchEvent): ProcessFacts {
  const f: ProcessFacts = prev ? { ...prev } : emptyFacts(e.pid, e.device);
  if (e.device !== null) f.device = e.device;
  if (f.startedMs === null) f.startedMs = e.timestampMs;
  const facts = e.facts;
  const model = str(facts.model);
  if (model) f.model = model;
  if (facts.config && typeof facts.config === 'object' && !Array.isArray(facts.config)) f.config = facts.config as ReportedConfig;
  const dtype = str(facts.dtype);
  if (dtype) f.dtype = dtype;
  f.params = num(facts.params) ?? f.params;
  // Weights: a phase's `weight_bytes`, or the `weights` event's `total_bytes` (the hook's weights(model)).
  f.weightBytes = num(facts.weight_bytes) ?? (e.kind === 'weights' ? num(facts.total_bytes) : null) ?? f.weightBytes;
  if (e.kind === 'phase') f.kvCacheBytes = num(facts.kv_bytes) ?? f.kvCacheBytes;
  switch (e.kind) {
    case 'phase':
      f.phase = e.name;
      if (e.name === 'cuda_init') {
        f.startedMs = e.timestampMs;
        f.endedMs = null;
      }
      break;
    case 'request_start': {
      const batch = num(facts.batch);
      const prompt = num(facts.prompt_tokens);
      if (batch !== null && prompt !== null) {
        f.request = { id: num(facts.id), batch, promptTokens: prompt, maxNewTokens: num(facts.max_new_tokens) ?? 0, startMs: e.timestampMs };
        f.lastRequest = f.request;
      }
      break;
    }
    case 'request_end':
      if (f.request) {
        const m = f.servedMax;
        f.servedMax = {
          batch: Math.max(m?.batch ?? 0, f.request.batch),
          promptTokens: Math.max(m?.promptTokens ?? 0, f.request.promptTokens),
          maxNewTokens: Math.max(m?.maxNewTokens ?? 0, f.request.maxNewTokens),
        };
      }
      f.request = null;
      break;
    case 'kv_cache':
      f.kvCacheBytes = num(facts.bytes) ?? f.kvCacheBytes;
      break;
    case 'oom':
      f.request = null;
      f.ooms++;
      break;
    case 'end':
      f.request = null;
      f.endedMs = e.timestampMs;
      f.phase = 'ended';
      break;
  }
  return f;
}

export function foldEvents(events: readonly TorchEvent[], into = new Map<number, ProcessFacts>()): Map<number, ProcessFacts> {
  for (const e of events) into.set(e.pid, applyEvent(into.get(e.pid), e));
  return into;
}

/** Request intervals of one process (for the "KV now" band): start, end (null while in flight), shape. */
export interface RequestSpan extends RequestFacts {
  pid: number;
  endMs: number | null;
  outcome: 'running' | 'done' | 'oom';
}

export function requestSpans(events: readonly TorchEvent[], pid: number): RequestSpan[] {
  const spans: RequestSpan[] = [];
  let open: RequestSpan | null = null;
  for (const e of events) {
    if (e.pid !== pid) continue;
    if (e.kind === 'request_start') {
      if (open) open.endMs = e.timestampMs;
      const batch = num(e.facts.batch);
      const prompt = num(e.facts.prompt_tokens);
      open = batch !== null && prompt !== null
        ? { pid, id: num(e.facts.id), batch, promptTokens: prompt, maxNewTokens: num(e.facts.max_new_tokens) ?? 0, startMs: e.timestampMs, endMs: null, outcome: 'running' }
        : null;
      if (open) spans.push(open);
    } else if (open && (e.kind === 'request_end' || e.kind === 'oom' || e.kind === 'end')) {
      open.endMs = e.timestampMs;
      open.outcome = e.kind === 'oom' ? 'oom' : 'done';
      open = null;
    }
  }
  return spans;
}
