import { type OptionNames, OptionsValidator } from '../errors/validate.js';
import {
  type BreakerStrategy,
  type BreakerWindow,
  type BreakerWindowSnapshot,
  mismatch,
  RateRule,
  type TimeWindowOptions,
  type TimeWindowSnapshot,
} from './strategy.js';
import type { BreakerTally } from './tally.js';

export const TIME_WINDOW_DEFAULTS = { buckets: 10 } as const;

/** Every option of `timeWindow`; any other name is rejected. */
export const TIME_WINDOW_OPTION_NAMES = {
  windowMs: true,
  buckets: true,
  failureRate: true,
  minimumCalls: true,
  slowCallMs: true,
  slowCallRate: true,
} as const satisfies OptionNames<TimeWindowOptions>;

/**
 * Opens when, of the last `windowMs`'s calls (`minimumCalls` at least), the share of failures
 * reaches `failureRate` or of slow calls `slowCallRate`. A ring of `buckets` counters (20 B each).
 * @example circuitBreaker({ strategy: timeWindow({ windowMs: 30_000, buckets: 10, failureRate: 0.5, minimumCalls: 20 }) })
 */
export function timeWindow(options: TimeWindowOptions): BreakerStrategy {
  const v = new OptionsValidator('timeWindow');
  const o = v.known(options, TIME_WINDOW_OPTION_NAMES);
  v.required('windowMs', o.windowMs).number('windowMs', o.windowMs, { gt: 0 });
  v.integer('buckets', o.buckets, { min: 1, max: 1_000 });
  const rule = new RateRule('timeWindow', o, v);
  v.done();
  return new TimeWindowStrategy(rule, options.windowMs, options.buckets ?? TIME_WINDOW_DEFAULTS.buckets);
}

class TimeWindowStrategy implements BreakerStrategy {
  readonly kind = 'time-window' as const;
  readonly usesTime = true;
  readonly slowCallMs: number | undefined;
  readonly #rule: RateRule;
  readonly #windowMs: number;
  readonly #buckets: number;
  constructor(rule: RateRule, windowMs: number, buckets: number) {
    this.#rule = rule;
    this.#windowMs = windowMs;
    this.#buckets = buckets;
    this.slowCallMs = rule.slowCallMs;
  }
  get params() {
    return { kind: 'time-window', windowMs: this.#windowMs, buckets: this.#buckets, ...this.#rule.params() };
  }
  createWindow(snapshot?: BreakerWindowSnapshot): BreakerWindow {
    const buckets = this.#buckets;
    const bucketMs = this.#windowMs / buckets;
    const window = new TimeWindow(this.#rule, buckets, bucketMs);
    if (snapshot !== undefined) {
      const ok =
        snapshot.kind === 'time-window' &&
        snapshot.buckets === buckets &&
        snapshot.bucketMs === bucketMs &&
        Array.isArray(snapshot.epochs) &&
        snapshot.epochs.length === buckets &&
        Array.isArray(snapshot.counts) &&
        snapshot.counts.length === 3 * buckets;
      if (!ok) throw mismatch(snapshot, `a time-window snapshot of ${buckets} buckets`);
      window.restore(snapshot as TimeWindowSnapshot);
    }
    return window;
  }
}

class TimeWindow implements BreakerWindow {
  readonly #rule: RateRule;
  readonly #buckets: number;
  readonly #bucketMs: number;
  /** Epoch (`floor(now / bucketMs)`) each bucket counts for; -1 when empty. */
  readonly #epochs: Float64Array;
  /** calls, failures, slow — three counters per bucket. */
  readonly #counts: Uint32Array;

  constructor(rule: RateRule, buckets: number, bucketMs: number) {
    this.#rule = rule;
    this.#buckets = buckets;
    this.#bucketMs = bucketMs;
    this.#epochs = new Float64Array(buckets).fill(-1);
    this.#counts = new Uint32Array(3 * buckets);
  }

  record(failed: boolean, slow: boolean, now: number): boolean {
    return this.#add(1, failed ? 1 : 0, slow ? 1 : 0, now);
  }

  /** The tally's calls all count in the bucket of `now`, the time of the synchronisation. */
  merge(t: BreakerTally, now: number): boolean {
    const failures = t.failures + t.slowFailures;
    const calls = t.successes + t.slowSuccesses + failures;
    return calls > 0 && this.#add(calls, failures, t.slowSuccesses + t.slowFailures, now);
  }

  #add(calls: number, failed: number, slow: number, now: number): boolean {
    const epoch = Math.floor(now / this.#bucketMs);
    const i = ((epoch % this.#buckets) + this.#buckets) % this.#buckets; // also for times before 1970
    const c = 3 * i;
    const counts = this.#counts;
    if (this.#epochs[i] !== epoch) {
      this.#epochs[i] = epoch;
      counts[c] = counts[c + 1] = counts[c + 2] = 0;
    }
    counts[c]! += calls;
    counts[c + 1]! += failed;
    counts[c + 2]! += slow;
    if (failed === 0 && slow === 0) return false; // a success never raises a rate
    // Sum the buckets still inside the window: epochs (epoch - buckets, epoch].
    let total = 0;
    let failures = 0;
    let slowCalls = 0;
    for (let b = 0; b < this.#buckets; b++) {
      const e = this.#epochs[b]!;
      if (e <= epoch - this.#buckets || e > epoch) continue;
      total += counts[3 * b]!;
      failures += counts[3 * b + 1]!;
      slowCalls += counts[3 * b + 2]!;
    }
    return this.#rule.trips(total, failures, slowCalls);
  }

  reset(): void {
    this.#epochs.fill(-1);
    this.#counts.fill(0);
  }

  snapshot(): TimeWindowSnapshot {
    return {
      kind: 'time-window',
      buckets: this.#buckets,
      bucketMs: this.#bucketMs,
      epochs: Array.from(this.#epochs),
      counts: Array.from(this.#counts),
    };
  }

  restore(s: TimeWindowSnapshot): void {
    this.#epochs.set(s.epochs);
    this.#counts.set(s.counts);
  }
}
