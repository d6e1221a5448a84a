import { type Clock, systemClock } from '../clock/clock.js';
import { coarseSystemClock } from '../clock/coarse-clock.js';
import { classify, type ErrorCategory } from '../errors/classify.js';
import { Emitter, type Subscribe } from '../events/emitter.js';
import type { DeadLetterReason } from '../messages/options.js';
import type { CallObserver } from '../policy/calls.js';
import type { RollbackReason } from '../transaction/options.js';
import { CircuitStates } from './circuits.js';
import { mergeCounts, NameCounts, ownKey } from './names.js';
import {
  METRICS_DEFAULTS,
  type MetricsOptions,
  type ResolvedMetricsOptions,
  resolveMetricsOptions,
} from './options.js';
import { LatencySketch, quantileOf } from './sketch.js';
import {
  addCounts,
  clearCounts,
  DEAD_LETTER_REASONS,
  ERROR_CATEGORIES,
  errorName,
  ROLLBACK_REASONS,
  Slot,
  zeroes,
} from './window.js';

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
  /**
   * Per breaker name (at most 32), the worst state its live breakers last reported (`isolated` >
   * `open` > `half-open` > `closed`).
   */
  circuits: Record<string, string>;
  /** Times each breaker opened, by name (at most 32 names; more are counted as `'other'`). */
  breakerOpens: Record<string, number>;
  /** Messages dead-lettered, by reason. */
  deadLetters: Record<DeadLetterReason, number>;
  /** Transactions committed. */
  commits: number;
  /** Transactions rolled back, by reason. */
  rollbacks: Record<RollbackReason, number>;
  /** Requests a load shedder turned away. */
  shed: number;
  /** Requests a rate limiter turned away. */
  rateLimited: number;
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
  /** `timeouts / max(calls, attempts)`: per attempt when retry policies report attempts, else per call; 0 without either. */
  timeoutRate: number;
  /** Calls rejected by a policy, shed and rate-limited ones included. */
  rejections: number;
  /** Times a breaker opened (into `open`; isolation is not counted). */
  breakerOpens: number;
  /** Messages dead-lettered. */
  deadLetters: number;
  deadLettersByReason: Record<DeadLetterReason, number>;
  /** Transactions that committed or rolled back. */
  transactions: number;
  rollbacks: number;
  rollbacksByReason: Record<RollbackReason, number>;
  /** `rollbacks / transactions`; 0 without transactions. */
  rollbackRate: number;
  /** Requests a load shedder turned away. */
  shed: number;
  /** Requests a rate limiter turned away. */
  rateLimited: number;
  lifetime: LifetimeTotals;
}

type Scalars = Omit<LifetimeTotals, 'rejections' | 'circuits' | 'breakerOpens' | 'deadLetters' | 'rollbacks'>;

const newLifetime = (): Scalars => ({
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
  commits: 0,
  shed: 0,
  rateLimited: 0,
});

const rate = (n: number, of: number): number => (of === 0 ? 0 : n / of);

function checkReason<R extends string>(method: string, reason: R, reasons: readonly R[]): void {
  if (reasons.includes(reason)) return;
  const names = reasons.map((r) => `'${r}'`);
  const allowed = `${names.slice(0, -1).join(', ')} or ${names.at(-1)}`;
  throw new TypeError(`${method}: expected ${allowed}, received ${String(reason)}`);
}

/**
 * Collects call outcomes, latencies, cache hits and policy events over a sliding window, in
 * bounded memory (docs/metrics.md, "Memory bound").
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
  readonly #rejections = new NameCounts(METRICS_DEFAULTS.maxLabels);
  readonly #circuits = new CircuitStates(METRICS_DEFAULTS.maxLabels);
  readonly #opens = new NameCounts(METRICS_DEFAULTS.maxLabels);
  readonly #deadLetters = zeroes(DEAD_LETTER_REASONS);
  readonly #rollbacks = zeroes(ROLLBACK_REASONS);
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
    this.#ring = Array.from({ length: this.#opts.subWindows }, () => new Slot(this.#opts.maxErrorTypes));
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
    if (latencyMs > 0 && latencyMs < Number.POSITIVE_INFINITY) life.latencySumMs += latencyMs;
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
    if (typeof attempts !== 'number' || !(attempts > 0 && attempts < Number.POSITIVE_INFINITY)) return;
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
    this.#rejections.add(reason); // first: a reason that is no string throws, counting nothing
    this.#slot().rejections++;
  }

  /** Counts a request a load shedder turned away, as a rejection with reason `'shed'` too. */
  recordShed(): void {
    this.#slot().shed++;
    this.#life.shed++;
    this.recordRejection('shed');
  }

  /** Counts a request a rate limiter turned away, as a rejection with reason `'rate_limited'` too. */
  recordRateLimited(): void {
    this.#slot().rateLimited++;
    this.#life.rateLimited++;
    this.recordRejection('rate_limited');
  }

  /**
   * Counts a breaker state change (and an open) and remembers the state; `breaker` tells
   * apart breakers sharing a name.
   */
  recordStateChange(name: string, state: string, breaker?: object): void {
    this.#circuits.set(name, state, breaker, this.#breakerKey);
    this.#life.stateChanges++;
    if (state !== 'open') return;
    this.#slot().breakerOpens++;
    this.#opens.add(name, 1, this.#breakerKey);
  }

  /** The key a new breaker name is stored under: the circuit states and the opens share one copy. */
  readonly #breakerKey = (name: string): string => this.#opens.find(name) ?? this.#circuits.find(name) ?? ownKey(name);

  /** Counts a message set aside (`'poison'` or `'max_retries_exceeded'`). */
  recordDeadLetter(reason: DeadLetterReason): void {
    checkReason('recordDeadLetter', reason, DEAD_LETTER_REASONS);
    this.#slot().deadLetters[reason]++;
    this.#deadLetters[reason]++;
  }

  /** Counts a transaction that committed. */
  recordCommit(): void {
    this.#slot().commits++;
    this.#life.commits++;
  }

  /** Counts a transaction rolled back (`'network_error'`, `'error'` or `'outcome_unknown'`). */
  recordRollback(reason: RollbackReason): void {
    checkReason('recordRollback', reason, ROLLBACK_REASONS);
    this.#slot().rollbacks[reason]++;
    this.#rollbacks[reason]++;
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
    const categories = zeroes(ERROR_CATEGORIES);
    const deadLetters = zeroes(DEAD_LETTER_REASONS);
    const rollbacks = zeroes(ROLLBACK_REASONS);
    for (const s of live) {
      addCounts(categories, s.categories);
      addCounts(deadLetters, s.deadLetters);
      addCounts(rollbacks, s.rollbacks);
    }
    const attempts = sum((s) => s.attempts);
    const timeouts = sum((s) => s.timeouts);
    const rolledBack = rollbacks.network_error + rollbacks.error + rollbacks.outcome_unknown;
    const transactions = sum((s) => s.commits) + rolledBack;
    return {
      at: this.#clock.now(),
      windowMs: this.#opts.windowMs,
      calls,
      ok: sum((s) => s.ok),
      failed,
      errorRate: rate(failed, calls),
      latency: {
        avg: count === 0 ? 0 : sum((s) => s.latency.sum) / count,
        p50: orZero(quantileOf(sketches, 0.5)),
        p95: orZero(quantileOf(sketches, 0.95)),
        p99: orZero(quantileOf(sketches, 0.99)),
        max: count === 0 ? 0 : Math.max(...sketches.map((s) => (s.count === 0 ? 0 : s.max))),
      },
      cache: { hits, misses, hitRate: rate(hits, hits + misses) },
      errors: sum((s) => s.errors),
      errorsByCategory: categories,
      errorsByType: mergeCounts(
        live.map((s) => s.types),
        this.#opts.maxErrorTypes,
      ),
      attempts,
      retries: sum((s) => s.retries),
      timeouts,
      timeoutRate: rate(timeouts, Math.max(calls, attempts)),
      rejections: sum((s) => s.rejections),
      breakerOpens: sum((s) => s.breakerOpens),
      deadLetters: deadLetters.poison + deadLetters.max_retries_exceeded,
      deadLettersByReason: deadLetters,
      transactions,
      rollbacks: rolledBack,
      rollbacksByReason: rollbacks,
      rollbackRate: rate(rolledBack, transactions),
      shed: sum((s) => s.shed),
      rateLimited: sum((s) => s.rateLimited),
      lifetime: {
        ...this.#life,
        rejections: this.#rejections.toJSON(),
        circuits: this.#circuits.toJSON(),
        breakerOpens: this.#opens.toJSON(),
        deadLetters: { ...this.#deadLetters },
        rollbacks: { ...this.#rollbacks },
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
    this.#opens.clear();
    clearCounts(this.#deadLetters);
    clearCounts(this.#rollbacks);
  }

  #slot(): Slot {
    const id = Math.floor(this.#clock.now() / this.#slotMs);
    // A clock that steps back writes where it now is: the sub-windows ahead of it are out
    // of the window until it catches up (a step of an hour froze it for the hour).
    if (id !== this.#currentId) {
      const n = this.#ring.length;
      const slot = this.#ring[((id % n) + n) % n]!;
      if (slot.id !== id) slot.reset(id);
      this.#current = slot;
      this.#currentId = id;
    }
    return this.#current;
  }

  #live(): Slot[] {
    const id = Math.floor(this.#clock.now() / this.#slotMs);
    return this.#ring.filter((s) => s.id > id - this.#ring.length && s.id <= id);
  }

  #countError(slot: Slot, error: unknown): void {
    slot.errors++;
    this.#life.errors++;
    slot.categories[classify(error)]++;
    slot.types.add(errorName(error));
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
