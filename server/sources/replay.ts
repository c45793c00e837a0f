/**
 * Replay source: plays a Headroom recording at real speed (or `speed` times faster), looping, as if live.
 * Emitted times are the recorded ones plus an offset that starts the loop now; `SourceState.replay.offsetMs`
 * says how to map back. Scheduled from deadlines with a chained setTimeout, so a slow tick never overlaps.
 */
import type { DataRecord, Inventory } from '../../shared/data.ts';
import { shiftRecord } from '../../shared/records.ts';
import type { SourceState } from '../../shared/source.ts';
import { createLogger } from '../log.ts';
import type { Recording } from '../recording/format.ts';
import { readRecording } from '../recording/reader.ts';
import type { GpuSource, SourceSink } from './types.ts';

const log = createLogger('replay');

export interface ReplayOptions {
  file: string;
  fileName: string;
  /** 1 = real time. */
  speed: number;
  /** Wall clock, injectable for tests. */
  now?: () => number;
}

/** Gap between loops: one typical GPU interval, so the chart shows no pile-up at the seam. */
function loopGapMs(records: DataRecord[]): number {
  const gpuTimes = records.filter((r) => r.kind === 'gpu').map((r) => r.t);
  const gaps = gpuTimes.slice(1).map((t, i) => t - (gpuTimes[i] ?? t)).sort((a, b) => a - b);
  return gaps[Math.floor(gaps.length / 2)] ?? 1000;
}

export class ReplaySource implements GpuSource {
  readonly kind = 'replay' as const;
  readonly #options: ReplayOptions;
  readonly #now: () => number;
  #recording: Recording | null = null;
  #sink: SourceSink | null = null;
  #timer: NodeJS.Timeout | null = null;
  #next = 0;
  #loop = 0;
  #loopWallStartMs = 0;
  #offsetMs = 0;
  #inventory: Inventory | null = null;

  constructor(options: ReplayOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  async start(sink: SourceSink): Promise<void> {
    this.#recording = await readRecording(this.#options.file);
    const { header, records, skippedUnknownKinds, skippedPartialLastLine } = this.#recording;
    if (skippedUnknownKinds > 0) log.warn(`skipped ${skippedUnknownKinds} records of kinds this version does not know`);
    if (skippedPartialLastLine) log.warn('the recording ends in a partial line (the recorder was stopped mid-write); it was skipped');
    log.info(`replaying ${this.#options.fileName}: ${records.length} records over ${((this.#endMs() - this.#startMs()) / 1000).toFixed(1)} s`, {
      description: header.description,
    });
    this.#sink = sink;
    this.#beginLoop(0);
    sink.state(this.#state());
    this.#schedule();
  }

  async stop(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    if (this.#sink && this.#recording) this.#sink.state({ ...this.#state(), status: 'stopped' });
    this.#sink = null;
  }

  async refreshInventory(): Promise<Inventory | null> {
    return this.#inventory;
  }

  #startMs(): number {
    return this.#recording?.records[0]?.t ?? 0;
  }

  #endMs(): number {
    const rs = this.#recording?.records ?? [];
    return rs[rs.length - 1]?.t ?? 0;
  }

  /**
   * Loop 0 starts now. Each further loop starts one typical GPU interval after the last record, both on the
   * wall clock (scaled by speed) and in emitted time (unscaled), so emitted times keep rising across the seam.
   */
  #beginLoop(loop: number): void {
    const records = this.#recording?.records ?? [];
    if (loop === 0) {
      this.#loopWallStartMs = this.#now();
      this.#offsetMs = this.#loopWallStartMs - this.#startMs();
    } else {
      const periodMs = this.#endMs() - this.#startMs() + loopGapMs(records);
      this.#loopWallStartMs += periodMs / this.#options.speed;
      this.#offsetMs += periodMs;
    }
    this.#loop = loop;
    this.#next = 0;
  }

  #state(): SourceState {
    const header = this.#recording?.header;
    const gpuNames = [...new Set(header?.gpuNames ?? [])];
    const on = gpuNames.length > 0 ? ` on ${gpuNames.join(' + ')}` : '';
    return {
      kind: 'replay',
      status: 'running',
      label: `Replay of a recorded session${on} — not live`,
      message: null,
      sinceMs: this.#loopWallStartMs,
      replay: {
        fileName: this.#options.fileName,
        description: header?.description ?? null,
        recordingStartMs: this.#startMs(),
        recordingEndMs: this.#endMs(),
        offsetMs: this.#offsetMs,
        loop: this.#loop,
      },
    };
  }

  /** Wall time at which record i of the current loop is due. */
  #dueMs(i: number): number {
    const r = this.#recording?.records[i];
    return r ? this.#loopWallStartMs + (r.t - this.#startMs()) / this.#options.speed : Infinity;
  }

  #schedule(): void {
    if (!this.#sink) return;
    const wait = Math.max(0, this.#dueMs(this.#next) - this.#now());
    this.#timer = setTimeout(() => this.#safeTick(), Math.min(wait, 2_147_483_647));
  }

  #safeTick(): void {
    try {
      this.#tick();
    } catch (e) {
      log.error('replay tick failed; continuing', { error: String(e) });
    }
    this.#schedule();
  }

  #tick(): void {
    const sink = this.#sink;
    const records = this.#recording?.records;
    if (!sink || !records) return;
    const now = this.#now();
    while (this.#next < records.length && this.#dueMs(this.#next) <= now) {
      const r = records[this.#next++] as DataRecord;
      const shifted = shiftRecord(r, this.#offsetMs);
      if (shifted.kind === 'inventory') this.#inventory = shifted.inventory;
      sink.record(shifted);
    }
    if (this.#next >= records.length) {
      this.#beginLoop(this.#loop + 1);
      sink.state(this.#state());
    }
  }
}
