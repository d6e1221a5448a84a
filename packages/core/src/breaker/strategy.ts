import { ConfigurationError } from '../errors/errors.js';
import { type OptionNames, OptionsValidator } from '../errors/validate.js';
import type { BreakerTally } from './tally.js';

/** The JSON state of a `consecutive(n)` window. */
export interface ConsecutiveSnapshot {
  readonly kind: 'consecutive';
  /** Failures since the last success. */
  readonly failures: number;
}

/** The JSON state of a `countWindow(...)` ring. */
export interface CountWindowSnapshot {
  readonly kind: 'count-window';
  readonly size: number;
  /** Slot the next outcome is written to. */
  readonly next: number;
  /** Outcomes in the ring (at most `size`). */
  readonly filled: number;
  /** Failure bits then slow bits, 32 outcomes per word. */
  readonly bits: readonly number[];
}

/** The JSON state of a `timeWindow(...)` ring of buckets. */
export interface TimeWindowSnapshot {
  readonly kind: 'time-window';
  readonly buckets: number;
  readonly bucketMs: number;
  /** Per bucket: the bucket's epoch (`floor(time / bucketMs)`), or -1 when empty. */
  readonly epochs: readonly number[];
  /** Per bucket: calls, failures, slow calls. */
  readonly counts: readonly number[];
}

export type BreakerWindowSnapshot = ConsecutiveSnapshot | CountWindowSnapshot | TimeWindowSnapshot;

/**
 * The per-breaker record of recent outcomes, fixed in size; `snapshot()` is its JSON form, which
 * `createWindow` restores.
 */
export interface BreakerWindow {
  /** Records one outcome at time `now`; returns true when the breaker should open. */
  record(failed: boolean, slow: boolean, now: number): boolean;
  /**
   * Records the outcomes another instance counted since its last synchronisation (see
   * `BreakerTally`) at time `now`; returns true when the breaker should open.
   */
  merge(tally: BreakerTally, now: number): boolean;
  /** Forgets every outcome. */
  reset(): void;
  snapshot(): BreakerWindowSnapshot;
}

/** When a closed breaker opens. Immutable: one strategy value may serve many breakers. */
export interface BreakerStrategy {
  readonly kind: BreakerWindowSnapshot['kind'];
  /** The strategy's options as JSON (what a store sends with `breakerTransition`). */
  readonly params: { readonly [option: string]: number | string | null };
  /** True when `record` reads `now` (time windows). */
  readonly usesTime: boolean;
  /** Calls at least this long count as slow; `undefined` when slow calls are not tracked. */
  readonly slowCallMs: number | undefined;
  /** A fresh window, or one restored from `snapshot` (throws `ConfigurationError` if it does not fit). */
  createWindow(snapshot?: BreakerWindowSnapshot): BreakerWindow;
}

/** Options shared by the rate-based windows. */
export interface RateWindowOptions {
  /** Opens when failures / calls in the window reach this fraction, in `(0, 1]` (0.5 = 50 %). */
  failureRate: number;
  /** No decision until at least this many calls are in the window. @default 1 */
  minimumCalls?: number;
  /** A call taking at least this many ms counts as slow (successful or not). Off by default. */
  slowCallMs?: number;
  /** Opens when slow calls / calls reach this fraction, in `(0, 1]`. @default 1 when `slowCallMs` is set */
  slowCallRate?: number;
}

export interface CountWindowOptions extends RateWindowOptions {
  /** Number of most recent calls considered (1 … 100 000). Memory: `size / 4` bytes. */
  size: number;
}

export interface TimeWindowOptions extends RateWindowOptions {
  /** Length of the sliding window in ms. */
  windowMs: number;
  /** Buckets the window is split into (1 … 1 000); the window slides one bucket at a time. @default 10 */
  buckets?: number;
}

/** Every option of `countWindow`; any other name is rejected. */
export const COUNT_WINDOW_OPTION_NAMES = {
  size: true,
  failureRate: true,
  minimumCalls: true,
  slowCallMs: true,
  slowCallRate: true,
} as const satisfies OptionNames<CountWindowOptions>;

export const mismatch = (snapshot: unknown, expected: string) =>
  new ConfigurationError('circuitBreaker', [{ option: 'initialState.window', received: snapshot, allowed: expected }]);

/**
 * Opens after `threshold` failures in a row; any success starts the count again.
 * @example circuitBreaker({ strategy: consecutive(5) })
 */
export function consecutive(threshold: number): BreakerStrategy {
  new OptionsValidator('consecutive')
    .required('threshold', threshold)
    .integer('threshold', threshold, { min: 1 })
    .done();
  return new ConsecutiveStrategy(threshold);
}

class ConsecutiveStrategy implements BreakerStrategy {
  readonly kind = 'consecutive' as const;
  readonly usesTime = false;
  readonly slowCallMs = undefined;
  readonly #threshold: number;
  constructor(threshold: number) {
    this.#threshold = threshold;
  }
  get params() {
    return { kind: 'consecutive', threshold: this.#threshold };
  }
  createWindow(snapshot?: BreakerWindowSnapshot): BreakerWindow {
    if (snapshot !== undefined && (snapshot.kind !== 'consecutive' || !Number.isSafeInteger(snapshot.failures))) {
      throw mismatch(snapshot, 'a consecutive window snapshot');
    }
    return new ConsecutiveWindow(this.#threshold, snapshot?.failures ?? 0);
  }
}

class ConsecutiveWindow implements BreakerWindow {
  readonly #threshold: number;
  #failures: number;
  constructor(threshold: number, failures: number) {
    this.#threshold = threshold;
    this.#failures = failures;
  }
  record(failed: boolean): boolean {
    if (!failed) {
      this.#failures = 0;
      return false;
    }
    return ++this.#failures >= this.#threshold;
  }
  merge(t: BreakerTally): boolean {
    if (t.successes + t.slowSuccesses === 0) {
      if (t.trailing === 0) return false;
      this.#failures += t.trailing;
      return this.#failures >= this.#threshold;
    }
    // In order: the leading failures extend the count, a run between successes stands alone, the trailing ones remain.
    const trips = (t.leading > 0 && this.#failures + t.leading >= this.#threshold) || t.longestRun >= this.#threshold;
    this.#failures = t.trailing;
    return trips;
  }
  reset(): void {
    this.#failures = 0;
  }
  snapshot(): ConsecutiveSnapshot {
    return { kind: 'consecutive', failures: this.#failures };
  }
}

/** Resolved thresholds of a rate window. */
export class RateRule {
  readonly failureRate: number;
  readonly minimumCalls: number;
  readonly slowCallMs: number | undefined;
  readonly slowCallRate: number;

  constructor(subject: string, options: Partial<RateWindowOptions>, v: OptionsValidator) {
    v.required('failureRate', options.failureRate).number('failureRate', options.failureRate, { gt: 0, max: 1 });
    v.integer('minimumCalls', options.minimumCalls, { min: 1 });
    v.number('slowCallMs', options.slowCallMs, { gt: 0 });
    v.number('slowCallRate', options.slowCallRate, { gt: 0, max: 1 });
    v.check(
      options.slowCallRate === undefined || options.slowCallMs !== undefined,
      'slowCallRate',
      options.slowCallRate,
      `no value unless slowCallMs is set (${subject})`,
    );
    this.failureRate = options.failureRate!; // required above: `v.done()` throws before the rule is used
    this.minimumCalls = options.minimumCalls ?? 1;
    this.slowCallMs = options.slowCallMs;
    this.slowCallRate = options.slowCallRate ?? 1;
  }

  params() {
    const { failureRate, minimumCalls, slowCallRate } = this;
    return { failureRate, minimumCalls, slowCallMs: this.slowCallMs ?? null, slowCallRate };
  }

  /** The decision: enough calls, and the failure rate or the slow-call rate at its threshold. */
  trips(calls: number, failures: number, slow: number): boolean {
    if (calls < this.minimumCalls || calls === 0) return false;
    // Division, not `rate * calls`: 7 / 100 >= 0.07 holds, 7 >= 0.07 * 100 does not.
    if (failures / calls >= this.failureRate) return true;
    return this.slowCallMs !== undefined && slow / calls >= this.slowCallRate;
  }
}

/**
 * Opens when, of the last `size` calls (`minimumCalls` at least), the share of failures
 * reaches `failureRate` or of slow calls `slowCallRate`. Two bits per slot.
 * @example circuitBreaker({ strategy: countWindow({ size: 100, failureRate: 0.5, minimumCalls: 20 }) })
 */
export function countWindow(options: CountWindowOptions): BreakerStrategy {
  const v = new OptionsValidator('countWindow');
  const o = v.known(options, COUNT_WINDOW_OPTION_NAMES);
  v.required('size', o.size).integer('size', o.size, { min: 1, max: 100_000 });
  const rule = new RateRule('countWindow', o, v);
  // Compared only when each is sound: a Symbol throws in a comparison.
  if (!v.issues.length && o.minimumCalls! > o.size!)
    v.check(false, 'minimumCalls', o.minimumCalls, `at most size (${o.size}), or the window could never open`);
  v.done();
  return new CountWindowStrategy(rule, options.size);
}

class CountWindowStrategy implements BreakerStrategy {
  readonly kind = 'count-window' as const;
  readonly usesTime = false;
  readonly slowCallMs: number | undefined;
  readonly #rule: RateRule;
  readonly #size: number;
  readonly #words: number;
  constructor(rule: RateRule, size: number) {
    this.#rule = rule;
    this.#size = size;
    this.#words = Math.ceil(size / 32);
    this.slowCallMs = rule.slowCallMs;
  }
  get params() {
    return { kind: 'count-window', size: this.#size, ...this.#rule.params() };
  }
  createWindow(snapshot?: BreakerWindowSnapshot): BreakerWindow {
    const size = this.#size;
    const window = new CountWindow(this.#rule, size, this.#words);
    if (snapshot !== undefined) {
      const ok =
        snapshot.kind === 'count-window' &&
        snapshot.size === size &&
        Number.isSafeInteger(snapshot.next) &&
        snapshot.next >= 0 &&
        snapshot.next < size &&
        Number.isSafeInteger(snapshot.filled) &&
        snapshot.filled >= 0 &&
        snapshot.filled <= size &&
        Array.isArray(snapshot.bits) &&
        snapshot.bits.length === 2 * this.#words;
      if (!ok) throw mismatch(snapshot, `a count-window snapshot of size ${size}`);
      window.restore(snapshot as CountWindowSnapshot);
    }
    return window;
  }
}

class CountWindow implements BreakerWindow {
  readonly #rule: RateRule;
  readonly #size: number;
  readonly #words: number;
  /** Failure bits in words [0, words), slow bits in [words, 2·words). */
  readonly #bits: Uint32Array;
  #next = 0;
  #filled = 0;
  #failures = 0;
  #slow = 0;

  constructor(rule: RateRule, size: number, words: number) {
    this.#rule = rule;
    this.#size = size;
    this.#words = words;
    this.#bits = new Uint32Array(2 * words);
  }

  record(failed: boolean, slow: boolean): boolean {
    const i = this.#next;
    const word = i >>> 5;
    const mask = 1 << (i & 31);
    const bits = this.#bits;
    const slowWord = word + this.#words;
    if (this.#filled === this.#size) {
      if ((bits[word]! & mask) !== 0) this.#failures--;
      if ((bits[slowWord]! & mask) !== 0) this.#slow--;
    } else {
      this.#filled++;
    }
    if (failed) {
      bits[word]! |= mask;
      this.#failures++;
    } else bits[word]! &= ~mask;
    if (slow) {
      bits[slowWord]! |= mask;
      this.#slow++;
    } else bits[slowWord]! &= ~mask;
    this.#next = i + 1 === this.#size ? 0 : i + 1;
    return (failed || slow) && this.#rule.trips(this.#filled, this.#failures, this.#slow);
  }

  /**
   * Appends the tally's outcomes in one fixed order — successes, slow successes, failures,
   * slow failures — of which only the last `size` can stay in the ring. Every rate is then
   * highest at the end, so the merge opens the breaker exactly when the window it leaves
   * would (at the first outcome that trips it).
   */
  merge(t: BreakerTally): boolean {
    let skip = Math.max(0, t.successes + t.slowSuccesses + t.failures + t.slowFailures - this.#size);
    const runs = [t.successes, t.slowSuccesses, t.failures, t.slowFailures];
    for (let kind = 0; kind < 4; kind++) {
      const n = runs[kind]!;
      const skipped = Math.min(n, skip);
      skip -= skipped;
      for (let i = skipped; i < n; i++) if (this.record(kind >= 2, kind % 2 === 1)) return true;
    }
    return false;
  }

  reset(): void {
    this.#bits.fill(0);
    this.#next = this.#filled = this.#failures = this.#slow = 0;
  }

  snapshot(): CountWindowSnapshot {
    return {
      kind: 'count-window',
      size: this.#size,
      next: this.#next,
      filled: this.#filled,
      bits: Array.from(this.#bits),
    };
  }

  restore(s: CountWindowSnapshot): void {
    this.#bits.set(s.bits.map((b) => b >>> 0));
    this.#next = s.next;
    this.#filled = s.filled;
    // Recount from the bits, so an edited snapshot cannot make the counters disagree.
    this.#failures = this.#slow = 0;
    for (let slot = 0; slot < this.#size; slot++) {
      const inRing = s.filled === this.#size || slot < s.filled;
      if (!inRing) continue;
      const mask = 1 << (slot & 31);
      if ((this.#bits[slot >>> 5]! & mask) !== 0) this.#failures++;
      if ((this.#bits[(slot >>> 5) + this.#words]! & mask) !== 0) this.#slow++;
    }
  }
}
