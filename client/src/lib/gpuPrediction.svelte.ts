/**
 * The prediction of one GPU, shared by its fleet card and its detail view: which model (catalog pick, the
 * agent's --model, the PyTorch hook's report), the what-if settings (following the configured maximum or the
 * run's envelope until edited), the predicted bands over time, and the predicted split next to the measured one.
 * Construct inside an effect root or a component (its effects keep the what-if in step); GpuPredictions keeps
 * one per GPU in a root of its own, for the page's life, not owned by whichever view asked first.
 */
import { untrack } from 'svelte';
import type { GpuSample } from '../../../shared/data.ts';
import { bandSeries, stackFor, type BandKey, type BandStack, type KvSpan } from './bands.ts';
import type { Dashboard, GpuSeries } from './dashboard.svelte.ts';
import { measuredSplitOf, usableCapacity } from './gpuView.ts';
import { othersParts } from './measuredSplit.ts';
import { pickModel, primaryPid } from './modelChoice.ts';
import { modelFromAgent, type ModelChoice } from './predict.ts';
import { requestSpans, type ProcessFacts, type RequestShape } from './processFacts.ts';
import type { Point } from './series.ts';
import { predictedSplit, type Split } from './split.ts';
import { WhatIf } from './whatif.svelte.ts';

export class GpuPrediction {
  readonly uuid: string;
  readonly whatif = new WhatIf();
  /** The user's catalog pick (overrides --model and the hook's report). */
  catalogId = $state<string | null>(null);
  readonly #d: Dashboard;

  readonly gpu: GpuSample | undefined = $derived(this.#dash().gpu(this.#id()));
  readonly series: GpuSeries | undefined = $derived(this.#dash().series[this.#id()]);
  readonly pid: number | null = $derived(primaryPid(this.#dash().facts, this.#dash().torchPidsOf(this.#id())));
  readonly facts: ProcessFacts | undefined = $derived(this.pid !== null ? this.#dash().facts[this.pid] : undefined);
  readonly choice: ModelChoice | null = $derived(pickModel({ catalogId: this.catalogId, agentModel: modelFromAgent(this.#dash().agentModel), hook: this.facts ?? null }));
  /** The engine's configured maximum batch × length from the agent's settings, when it has one. */
  readonly configured: RequestShape | null = $derived.by(() => {
    const c = this.#dash().alertSettings;
    return c?.maxBatch && c.maxSeqLen ? { batch: c.maxBatch, promptTokens: c.maxSeqLen, maxNewTokens: 0 } : null;
  });
  /** What the what-if follows until edited: the configured maximum, else the run's envelope. */
  readonly followShape: RequestShape | null = $derived(this.configured ?? this.facts?.servedMax ?? this.facts?.request ?? null);

  /** KV of each reported request shape under the current settings (cleared when the settings change). */
  readonly #kvCache = $derived.by(() => {
    void this.whatif.runtime;
    void this.whatif.model;
    return new Map<string, number | null>();
  });

  readonly spans: KvSpan[] = $derived(
    this.pid === null ? [] : requestSpans(this.#dash().events, this.pid).map((s) => ({ startMs: s.startMs, endMs: s.endMs, kvNowBytes: this.kvOf(s) })),
  );
  readonly bands: Record<BandKey, Point[]> | null = $derived.by(() => {
    const parts = this.whatif.parts;
    const pts = this.series?.used.points;
    void this.series?.used.version;
    if (!parts || !pts || pts.length === 0) return null;
    return bandSeries(parts, this.spans, pts[0]?.x ?? 0, pts[pts.length - 1]?.x ?? 0);
  });
  readonly stackNow: BandStack | null = $derived(this.whatif.parts ? stackFor(this.whatif.parts, this.facts?.request ? this.kvOf(this.facts.request) : 0) : null);

  readonly measured: Split | null = $derived(this.gpu ? measuredSplitOf(this.#dash(), this.gpu) : null);
  readonly predicted: Split | null = $derived.by(() => {
    const parts = this.whatif.predictedNow(this.facts?.request ?? null);
    if (!parts || !this.gpu || !this.measured) return null;
    const a = this.#dash().attribution[this.#id()];
    // A process that reports no KV has it counted under activations by attribution: compare like with like.
    const reportsKv = a?.processes.find((p) => p.pid === this.pid)?.kvCacheReported ?? true;
    const own = reportsKv ? parts : { ...parts, kvNowBytes: 0, activationBytes: parts.activationBytes + parts.kvNowBytes };
    return predictedSplit(own, othersParts(a, this.pid), this.measured, this.gpu.totalBytes);
  });
  readonly splitNote: string | null = $derived.by(() => {
    const procs = this.#dash().attribution[this.#id()]?.processes ?? [];
    if (procs.length === 0) return 'No PyTorch process reports on this GPU: only nvidia-smi’s numbers are split (use the PyTorch hook for weights, KV and cache).';
    const silent = procs.filter((p) => !p.kvCacheReported).map((p) => p.pid);
    return silent.length > 0 ? `KV cache not reported by pid ${silent.join(', ')}: its KV counts under activations, measured and predicted.` : null;
  });

  constructor(dashboard: Dashboard, uuid: string) {
    this.#d = dashboard;
    this.uuid = uuid;
    $effect(() => {
      this.whatif.model = this.choice;
    });
    $effect(() => {
      // Only on a real change: every tick brings a new sample object, and a new context re-runs the solvers.
      const gpu = this.gpu;
      if (!gpu) return;
      const cap = usableCapacity(gpu);
      const ctx = untrack(() => this.whatif.context);
      if (cap !== ctx.gpuMemoryBytes || gpu.name !== ctx.gpuName) this.whatif.context = { gpuMemoryBytes: cap, gpuName: gpu.name };
    });
    $effect(() => {
      this.whatif.follow(this.followShape, this.facts?.dtype ?? null);
    });
  }

  // Field initializers (lazy deriveds) reach the constructor's values through methods.
  #dash(): Dashboard {
    return this.#d;
  }

  #id(): string {
    return this.uuid;
  }

  kvOf(s: RequestShape): number {
    const key = `${s.batch}x${s.promptTokens}+${s.maxNewTokens}`;
    const cache = this.#kvCache;
    if (!cache.has(key)) cache.set(key, this.whatif.kvFor(s));
    return cache.get(key) ?? 0;
  }
}

/** One prediction per GPU, created on first use in its own effect root (not owned by whichever view asked). */
export class GpuPredictions {
  readonly #dashboard: Dashboard;
  readonly #byUuid = new Map<string, { prediction: GpuPrediction; stop: () => void }>();

  constructor(dashboard: Dashboard) {
    this.#dashboard = dashboard;
  }

  get(uuid: string): GpuPrediction {
    const known = this.#byUuid.get(uuid);
    if (known) return known.prediction;
    let made: GpuPrediction | null = null;
    const stop = $effect.root(() => {
      made = new GpuPrediction(this.#dashboard, uuid);
    });
    const prediction = made as unknown as GpuPrediction;
    this.#byUuid.set(uuid, { prediction, stop });
    return prediction;
  }

  dispose(): void {
    for (const { stop } of this.#byUuid.values()) stop();
    this.#byUuid.clear();
  }
}
