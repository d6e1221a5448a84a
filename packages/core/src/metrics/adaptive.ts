import type { OptionNames, OptionsValidator } from '../errors/validate.js';
import { LatencySketch, quantileOf } from './sketch.js';

/**
 * A latency percentile written `'p50'`, `'p95'`, `'p99.9'`: `p` then a number above 0 and
 * below 100 with at most two digits before and two after the point.
 */
export type Percentile = `p${number}`;

/** Anything that answers a latency quantile in ms: a `MetricsCollector`, a `LatencySketch`. `NaN` means "no data". */
export interface LatencySource {
  quantile(q: number): number;
}

/** How a policy learns a latency percentile (used when its delay or limit is a {@link Percentile}). */
export interface AdaptiveLatencyOptions {
  /**
   * Where the percentile is read; without it the policy keeps its own sketch of its calls'
   * latencies. @default undefined (own sketch)
   */
  latency?: LatencySource;
  /** Own sketch only: the fallback is used until the window holds this many latencies. @default 100 */
  minSamples?: number;
  /** Own sketch only: how far back the window reaches, in ms (four sub-windows of `windowMs / 4`). @default 60_000 */
  windowMs?: number;
  /** The cached percentile is recomputed at least this often, in ms of the policy's clock. @default 1_000 */
  refreshMs?: number;
  /** ...and at least every this many calls, whichever comes first. @default 1_000 */
  refreshCalls?: number;
}

export const ADAPTIVE_LATENCY_DEFAULTS = {
  minSamples: 100,
  windowMs: 60_000,
  refreshMs: 1_000,
  refreshCalls: 1_000,
} as const;

/** Sub-windows of an own sketch. Memory: 4 × 5 076 bytes of counts (≈ 20 KB) per policy, whatever the traffic. */
export const ADAPTIVE_SLOTS = 4;

const PERCENTILE = /^p(\d{1,2}(?:\.\d{1,2})?)$/;

/** The quantile (0 < q < 1) a percentile string names, or `undefined` if it is not one. */
export function parsePercentile(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const match = PERCENTILE.exec(value);
  if (match === null) return undefined;
  const percent = Number(match[1]);
  // toFixed: 99.9 / 100 is 0.9990000000000001 in binary; report the quantile the user wrote.
  return percent > 0 && percent < 100 ? Number((percent / 100).toFixed(4)) : undefined;
}

export const PERCENTILE_ALLOWED = "a percentile string 'pN' to 'pNN.NN' between 'p0' and 'p100' exclusive, e.g. 'p95'";

export interface ResolvedAdaptive {
  q: number;
  min: number;
  max: number;
  source: LatencySource | undefined;
  minSamples: number;
  windowMs: number;
  refreshMs: number;
  refreshCalls: number;
}

/** Validates the adaptive options into `v` (the caller calls `v.done()`); returns them resolved with `q`, `min` and `max`. */
export function resolveAdaptive(
  v: OptionsValidator,
  q: number,
  min: number,
  max: number,
  options: AdaptiveLatencyOptions,
): ResolvedAdaptive {
  const source = options.latency;
  v.check(
    source === undefined || (typeof source === 'object' && source !== null && typeof source.quantile === 'function'),
    'latency',
    source,
    'an object with a quantile(q) method (a metrics collector, a LatencySketch)',
  );
  v.integer('minSamples', options.minSamples, { min: 1 });
  v.number('windowMs', options.windowMs, { gt: 0 });
  v.number('refreshMs', options.refreshMs, { min: 0 });
  v.integer('refreshCalls', options.refreshCalls, { min: 1 });
  const d = ADAPTIVE_LATENCY_DEFAULTS;
  return {
    q,
    min,
    max,
    source,
    minSamples: options.minSamples ?? d.minSamples,
    windowMs: options.windowMs ?? d.windowMs,
    refreshMs: options.refreshMs ?? d.refreshMs,
    refreshCalls: options.refreshCalls ?? d.refreshCalls,
  };
}

/** The adaptive option names: part of a learning policy's names, rejected when its delay or limit is not a percentile. */
export const ADAPTIVE_LATENCY_OPTION_NAMES = {
  latency: true,
  minSamples: true,
  windowMs: true,
  refreshMs: true,
  refreshCalls: true,
} as const satisfies OptionNames<AdaptiveLatencyOptions>;

/**
 * A latency percentile for a policy's decisions, clamped to `[min, max]` and cached: it is
 * recomputed every `refreshCalls` reads or `refreshMs` ms, whichever comes first, so a read
 * costs a counter decrement and a comparison. With no external `latency` source it keeps its
 * own window: {@link ADAPTIVE_SLOTS} `LatencySketch`es (uint32, 5 076 bytes each) rotated every
 * `windowMs / 4`, so memory is fixed whatever the number of calls.
 *
 * {@link AdaptiveLatency.value} is `NaN` until the window holds `minSamples` latencies (or the
 * external source answers `NaN`); the policy then applies its fallback. While the own window is
 * short of samples the count is checked on every read, so warm-up ends at the first read after
 * the `minSamples`-th latency.
 */
export class AdaptiveLatency {
  readonly #o: ResolvedAdaptive;
  readonly #slots: LatencySketch[] = [];
  readonly #ids: number[] = [];
  readonly #slotMs: number;
  #current: LatencySketch | undefined;
  #currentId = Number.NaN;
  #cached = Number.NaN;
  /** No value yet (`#cached` is NaN): the own window's count is checked on every read. */
  #cold = true;
  #callsLeft = 0;
  #refreshAt = Number.NEGATIVE_INFINITY;
  #readAt = Number.NEGATIVE_INFINITY;
  /** Recomputations so far (tests read it to check the cadence). */
  refreshes = 0;

  constructor(options: ResolvedAdaptive) {
    this.#o = options;
    this.#slotMs = options.windowMs / ADAPTIVE_SLOTS;
    if (options.source === undefined) {
      for (let i = 0; i < ADAPTIVE_SLOTS; i++) {
        this.#slots.push(new LatencySketch('uint32'));
        this.#ids.push(Number.NEGATIVE_INFINITY);
      }
    }
  }

  /** True when latencies must be recorded (no external source). */
  get records(): boolean {
    return this.#o.source === undefined;
  }

  /** The clamped percentile in ms, or `NaN` while there is not enough data. `now` is the clock's time. */
  value(now: number): number {
    if (
      --this.#callsLeft < 0 ||
      now >= this.#refreshAt ||
      now < this.#readAt ||
      (this.#cold && this.#slots.length > 0)
    ) {
      this.#refresh(now);
    }
    return this.#cached;
  }

  /** Records one latency (ms) observed at `now`. Does nothing with an external source. */
  record(latencyMs: number, now: number): void {
    if (this.#o.source !== undefined) return;
    const id = Math.floor(now / this.#slotMs);
    if (id !== this.#currentId) this.#rotate(id);
    this.#current!.add(latencyMs);
  }

  #refresh(now: number): void {
    const o = this.#o;
    this.#callsLeft = o.refreshCalls - 1;
    this.#refreshAt = now + o.refreshMs;
    this.#readAt = now;
    let raw: number;
    if (o.source !== undefined) {
      try {
        raw = o.source.quantile(o.q);
      } catch {
        raw = Number.NaN; // a source that fails has no data: not a failure of the call
      }
    } else {
      this.#rotate(Math.floor(now / this.#slotMs));
      let count = 0;
      for (const slot of this.#slots) count += slot.count;
      if (count < o.minSamples) {
        this.#cached = Number.NaN;
        this.#cold = true;
        return;
      }
      raw = quantileOf(this.#slots, o.q);
    }
    this.refreshes++;
    this.#cold = !(raw >= 0);
    this.#cached = this.#cold ? Number.NaN : Math.min(o.max, Math.max(o.min, raw));
  }

  /** Makes sub-window `id` current and forgets sub-windows that left the window (or lie ahead of a clock that stepped back). */
  #rotate(id: number): void {
    const ids = this.#ids;
    for (let i = 0; i < ADAPTIVE_SLOTS; i++) {
      const slotId = ids[i]!;
      if (slotId !== Number.NEGATIVE_INFINITY && (slotId <= id - ADAPTIVE_SLOTS || slotId > id)) {
        this.#slots[i]!.clear();
        ids[i] = Number.NEGATIVE_INFINITY;
      }
    }
    const index = ((id % ADAPTIVE_SLOTS) + ADAPTIVE_SLOTS) % ADAPTIVE_SLOTS;
    if (ids[index] !== id) {
      this.#slots[index]!.clear();
      ids[index] = id;
    }
    this.#currentId = id;
    this.#current = this.#slots[index];
  }
}
