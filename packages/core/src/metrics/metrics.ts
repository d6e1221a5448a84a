import { type Clock, systemClock } from '../clock/clock.js';
import { coarseSystemClock } from '../clock/coarse-clock.js';
import { classify, type ErrorCategory } from '../errors/classify.js';
import { Emitter, type Subscribe } from '../events/emitter.js';
import type { CallObserver } from '../policy/calls.js';
import {
  METRICS_DEFAULTS,
  type MetricsOptions,
  type ResolvedMetricsOptions,
  resolveMetricsOptions,
} from './options.js';
import { LatencySketch, quantileOf } from './sketch.js';
import { countBounded, ERROR_CATEGORIES, emptyCategories, errorName, mergeTypes, ownKey, Slot } from './window.js';

/** One call's outcome, as given to {@link MetricsCollector.recordCall}. */
export interface CallRecord {
  /** Duration of the call in milliseconds. */
  readonly latencyMs: number;
  /** Whether the call succeeded. */
  readonly ok: boolean;
  /** The failure, counted in `errorsByCategory` / `errorsByType` (only when `ok` is false). */
  readonly error?: unknown;
}

/** Counts since construction (or the last `reset()`), never windowed: what Prometheus counters read. */
export interface LifetimeTotals {
  calls: number;
  ok: number;
  failed: number;
  /** Errors counted by category: failed calls with an error, and `recordError` calls. */
  errors: number;
  cacheHits: number;
  cacheMisses: number;
  /** Sum of every recorded latency, in milliseconds. */
  latencySumMs: number;
  /** Attempts made by observed retry policies (first calls included), counted when a call ends. */
  attempts: number;
  retries: number;
  giveUps: number;
  timeouts: number;
  stateChanges: number;
  /** Rejections by reason (at most 32 reasons; more are counted as `'other'`). */
  rejections: Record<string, number>;
  /** Last state seen per breaker name (at most 32 names). */
  circuits: Record<string, string>;
}

/** What a collector saw over its sliding window, plus lifetime totals. */
export interface MetricsSnapshot {
  /** Clock time of the snapshot. */
  at: number;
  windowMs: number;
  calls: number;
  ok: number;
  failed: number;
  /** `failed / calls`; 0 without calls. */
  errorRate: number;
  /** Milliseconds; every figure is 0 without calls. Quantiles are within 1 % of the exact value. */
  latency: { avg: number; p50: number; p95: number; p99: number; max: number };
  /** `hitRate` is `hits / (hits + misses)`; 0 without cache traffic. */
  cache: { hits: number; misses: number; hitRate: number };
  errors: number;
  errorsByCategory: Record<ErrorCategory, number>;
  /** By error `name`: at most `maxErrorTypes` names, the rest under `'other'`. */
  errorsByType: Record<string, number>;
  attempts: number;
  retries: number;
  timeouts: number;
  rejections: number;
  lifetime: LifetimeTotals;
}

const newLifetime = (): Omit<LifetimeTotals, 'rejections' | 'circuits'> => ({
  calls: 0,
  ok: 0,
  failed: 0,
  errors: 0,
  cacheHits: 0,
  cacheMisses: 0,
  latencySumMs: 0,
  attempts: 0,
  retries: 0,
  giveUps: 0,
  timeouts: 0,
  stateChanges: 0,
});

/**
 * Collects call outcomes, latencies, cache hits and policy events over a sliding window.
 *
 * Memory is bounded whatever the traffic: `subWindows` (≤ 6) sub-windows of one 5 KiB
 * sketch, ten category counters and at most `maxErrorTypes` error names each, plus at most
 * 32 rejection reasons and 32 breaker names in the lifetime totals, every name cut to 48
 * characters. Measured with every map full of 48-character names: 55 KiB.
 */
export class MetricsCollector implements CallObserver {
  readonly #opts: ResolvedMetricsOptions;
  readonly #clock: Clock;
  /** Times observed calls: the exact system time, where the window needs only the coarse one. */
  readonly #timer: Clock;
  readonly #slotMs: number;
  readonly #ring: Slot[];
  #current: Slot;
  #currentId = Number.NEGATIVE_INFINITY;
  #life = newLifetime();
  readonly #rejections = new Map<string, number>();
  readonly #circuits = new Map<string, string>();
  readonly #calls = new Emitter<CallRecord>();

  /**
   * Every call recorded from now on, as it is recorded (what an exporter's histogram counts).
   * Costs nothing while nobody listens.
   */
  readonly onCall: Subscribe<CallRecord> = this.#calls.subscribe;

  constructor(options: MetricsOptions = {}) {
    this.#opts = resolveMetricsOptions(options);
    // Window rotation needs no finer time than 1 ms; the coarse clock spares a system clock read per record.
    this.#clock = options.clock ?? coarseSystemClock;
    this.#timer = options.clock ?? systemClock;
    this.#slotMs = this.#opts.windowMs / this.#opts.subWindows;
    this.#ring = Array.from({ length: this.#opts.subWindows }, () => new Slot());
    this.#current = this.#ring[0]!;
  }

  get windowMs(): number {
    return this.#opts.windowMs;
  }

  /** Records one call: its latency, its outcome and, for a failure, its error. */
  recordCall(call: CallRecord): void {
    if (typeof call?.latencyMs !== 'number') {
      throw new TypeError(
        `recordCall: expected { latencyMs: number, ok: boolean, error? }, received latencyMs ${typeof call?.latencyMs}`,
      );
    }
    const slot = this.#slot();
    const life = this.#life;
    slot.calls++;
    life.calls++;
    if (call.ok) {
      slot.ok++;
      life.ok++;
    } else {
      slot.failed++;
      life.failed++;
      if (call.error !== undefined) this.#countError(slot, call.error);
    }
    const latencyMs = call.latencyMs;
    slot.latency.add(latencyMs);
    if (latencyMs > 0) life.latencySumMs += latencyMs;
    if (this.#calls.hasListeners) this.#calls.emit(call);
  }

  /** Starts timing a call of an observed policy (see `observe`): its start time on the collector's clock. */
  callStarted(): number {
    return this.#timer.now();
  }

  /** Records a call of an observed policy that started at `startedAt` (see `observe`). */
  callSettled(startedAt: number, ok: boolean, error: unknown): void {
    const latencyMs = this.#timer.now() - startedAt;
    this.recordCall(ok ? { latencyMs, ok } : { latencyMs, ok, error });
  }

  /** Records a cache lookup. */
  recordCache(hit: boolean): void {
    const slot = this.#slot();
    if (hit) {
      slot.cacheHits++;
      this.#life.cacheHits++;
    } else {
      slot.cacheMisses++;
      this.#life.cacheMisses++;
    }
  }

  /** Counts an error by category and type without counting a call. */
  recordError(error: unknown): void {
    this.#countError(this.#slot(), error);
  }

  /** Counts the attempts one call took, the first included (what `observe` calls when a retry policy settles). */
  recordAttempts(attempts: number): void {
    if (!(attempts > 0)) return;
    this.#slot().attempts += attempts;
    this.#life.attempts += attempts;
  }

  /** Counts a retry (what `observe` calls on a retry event). */
  recordRetry(): void {
    this.#slot().retries++;
    this.#life.retries++;
  }

  /** Counts a retry policy giving up. */
  recordGiveUp(): void {
    this.#life.giveUps++;
  }

  /** Counts a timeout. */
  recordTimeout(): void {
    this.#slot().timeouts++;
    this.#life.timeouts++;
  }

  /** Counts a call a policy rejected (`reason` such as `'circuit_open'`, `'bulkhead_full'`). */
  recordRejection(reason: string): void {
    this.#slot().rejections++;
    countBounded(this.#rejections, reason, METRICS_DEFAULTS.maxLabels);
  }

  /** Counts a breaker state change and remembers the breaker's state. */
  recordStateChange(name: string, state: string): void {
    this.#life.stateChanges++;
    const key = ownKey(name);
    if (this.#circuits.has(key) || this.#circuits.size < METRICS_DEFAULTS.maxLabels)
      this.#circuits.set(key, ownKey(state));
  }

  /** The latency at quantile `q` over the window, in milliseconds (within 1 %); `NaN` without calls. */
  quantile(q: number): number {
    return quantileOf(
      this.#live().map((s) => s.latency),
      q,
    );
  }

  /** A merged copy of the window's latency sketch (to merge with other processes' sketches). */
  latencySketch(): LatencySketch {
    const merged = new LatencySketch();
    for (const slot of this.#live()) merged.merge(slot.latency);
    return merged;
  }

  snapshot(): MetricsSnapshot {
    const live = this.#live();
    const sum = (pick: (s: Slot) => number) => live.reduce((total, s) => total + pick(s), 0);
    const calls = sum((s) => s.calls);
    const failed = sum((s) => s.failed);
    const hits = sum((s) => s.cacheHits);
    const misses = sum((s) => s.cacheMisses);
    const sketches = live.map((s) => s.latency);
    const count = sum((s) => s.latency.count);
    const orZero = (n: number) => (Number.isNaN(n) ? 0 : n);
    const categories = emptyCategories();
    for (const s of live) for (const c of ERROR_CATEGORIES) categories[c] += s.categories[c];
    return {
      at: this.#clock.now(),
      windowMs: this.#opts.windowMs,
      calls,
      ok: sum((s) => s.ok),
      failed,
      errorRate: calls === 0 ? 0 : failed / calls,
      latency: {
        avg: count === 0 ? 0 : sum((s) => s.latency.sum) / count,
        p50: orZero(quantileOf(sketches, 0.5)),
        p95: orZero(quantileOf(sketches, 0.95)),
        p99: orZero(quantileOf(sketches, 0.99)),
        max: count === 0 ? 0 : Math.max(...sketches.map((s) => (s.count === 0 ? 0 : s.max))),
      },
      cache: { hits, misses, hitRate: hits + misses === 0 ? 0 : hits / (hits + misses) },
      errors: sum((s) => s.errors),
      errorsByCategory: categories,
      errorsByType: mergeTypes(
        live.map((s) => s.types),
        this.#opts.maxErrorTypes,
      ),
      attempts: sum((s) => s.attempts),
      retries: sum((s) => s.retries),
      timeouts: sum((s) => s.timeouts),
      rejections: sum((s) => s.rejections),
      lifetime: {
        ...this.#life,
        rejections: Object.fromEntries(this.#rejections),
        circuits: Object.fromEntries(this.#circuits),
      },
    };
  }

  /** Forgets everything, lifetime totals included. */
  reset(): void {
    for (const slot of this.#ring) slot.reset(Number.NEGATIVE_INFINITY);
    this.#currentId = Number.NEGATIVE_INFINITY;
    this.#current = this.#ring[0]!;
    this.#life = newLifetime();
    this.#rejections.clear();
    this.#circuits.clear();
  }

  #slot(): Slot {
    const id = Math.floor(this.#clock.now() / this.#slotMs);
    // A clock that steps back keeps writing into the newest sub-window.
    if (id > this.#currentId) {
      const n = this.#ring.length;
      const slot = this.#ring[((id % n) + n) % n]!;
      slot.reset(id);
      this.#current = slot;
      this.#currentId = id;
    }
    return this.#current;
  }

  #live(): Slot[] {
    const id = Math.max(Math.floor(this.#clock.now() / this.#slotMs), this.#currentId);
    const oldest = id - this.#ring.length;
    return this.#ring.filter((s) => s.id > oldest);
  }

  #countError(slot: Slot, error: unknown): void {
    slot.errors++;
    this.#life.errors++;
    slot.categories[classify(error)]++;
    countBounded(slot.types, errorName(error), this.#opts.maxErrorTypes);
  }
}

/**
 * A metrics collector over a sliding window.
 *
 * @example
 * const stats = metrics({ windowMs: 60_000 });
 * stats.recordCall({ latencyMs: 42, ok: true });
 * stats.snapshot().latency.p95;
 */
export function metrics(options: MetricsOptions = {}): MetricsCollector {
  return new MetricsCollector(options);
}
