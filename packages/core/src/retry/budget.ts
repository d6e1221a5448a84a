import { type Clock, systemClock } from '../clock/clock.js';
import { type OptionNames, OptionsValidator } from '../errors/validate.js';

export interface RetryBudgetOptions {
  /** Retries allowed as a share of calls in the window. @default 0.1 */
  ratio?: number;
  /** Retries always allowed per second, so low traffic can still retry. @default 1 */
  minRetriesPerSecond?: number;
  /** Length of the sliding window. @default 10_000 */
  windowMs?: number;
  clock?: Clock;
}

export const RETRY_BUDGET_DEFAULTS = { ratio: 0.1, minRetriesPerSecond: 1, windowMs: 10_000 } as const;
const BUCKETS = 10;

/** Every option of a retry budget; any other name is rejected. */
export const RETRY_BUDGET_OPTION_NAMES = {
  ratio: true,
  minRetriesPerSecond: true,
  windowMs: true,
  clock: true,
} as const satisfies OptionNames<RetryBudgetOptions>;

/** Checks budget options into `v`, as a nested option (`path`, e.g. `'budget'`) or at the top. */
export function checkBudgetOptions(v: OptionsValidator, options: RetryBudgetOptions | undefined, path?: string): void {
  const o = v.known(options, RETRY_BUDGET_OPTION_NAMES, path);
  const name = (option: string) => (path === undefined ? option : `${path}.${option}`);
  v.number(name('ratio'), o.ratio, { min: 0 });
  v.number(name('minRetriesPerSecond'), o.minRetriesPerSecond, { min: 0 });
  v.number(name('windowMs'), o.windowMs, { min: BUCKETS });
  v.clock(name('clock'), o.clock);
}

/**
 * A budget of this copy of core or of another one, whose class `instanceof` does not know (an
 * ESM app that requires the CommonJS entry too): a retry only calls its methods.
 */
export const isRetryBudget = (value: unknown): value is RetryBudget =>
  typeof (value as RetryBudget | undefined)?.tryRetry === 'function';

// The window moves in steps, so a span of `windowMs` across a step may hold up to twice the bound.
/**
 * Finagle's retry budget: at most `ratio · calls + minRetriesPerSecond · windowMs / 1000` retries
 * over `windowMs`; share one instance to share it.
 */
export class RetryBudget {
  readonly #clock: Clock;
  readonly #ratio: number;
  readonly #floor: number;
  readonly #bucketMs: number;
  readonly #epochs = new Float64Array(BUCKETS).fill(-1);
  readonly #calls = new Float64Array(BUCKETS);
  readonly #retries = new Float64Array(BUCKETS);
  #rejected = 0;

  constructor(options: RetryBudgetOptions = {}) {
    const v = new OptionsValidator('retry budget');
    checkBudgetOptions(v, options);
    v.done();
    const d = RETRY_BUDGET_DEFAULTS; // `??`, not a spread: an option given as `undefined` takes its default
    const ratio = options.ratio ?? d.ratio;
    const minRetriesPerSecond = options.minRetriesPerSecond ?? d.minRetriesPerSecond;
    const windowMs = options.windowMs ?? d.windowMs;
    this.#clock = options.clock ?? systemClock;
    this.#ratio = ratio;
    this.#floor = (minRetriesPerSecond * windowMs) / 1000;
    this.#bucketMs = windowMs / BUCKETS;
  }

  #bucket(): number {
    const epoch = Math.floor(this.#clock.now() / this.#bucketMs);
    const i = ((epoch % BUCKETS) + BUCKETS) % BUCKETS; // a clock before 1970 (a test's FakeClock) too
    if (this.#epochs[i] !== epoch) {
      this.#epochs[i] = epoch;
      this.#calls[i] = 0;
      this.#retries[i] = 0;
    }
    return i;
  }

  /** Counts a first attempt. */
  recordCall(): void {
    this.#calls[this.#bucket()]! += 1;
  }

  /** Takes one retry from the budget; false (and counted) when it is spent. */
  tryRetry(): boolean {
    const current = this.#bucket();
    const oldest = (this.#epochs[current] as number) - BUCKETS + 1;
    let calls = 0;
    let retries = 0;
    for (let i = 0; i < BUCKETS; i++) {
      if ((this.#epochs[i] as number) >= oldest) {
        calls += this.#calls[i] as number;
        retries += this.#retries[i] as number;
      }
    }
    if (retries + 1 > this.#ratio * calls + this.#floor) {
      this.#rejected++;
      return false;
    }
    this.#retries[current]! += 1;
    return true;
  }

  /** Gives back a retry taken `agoMs` ago for a wait its caller aborted (to its step, if still in the window). */
  release(agoMs = 0): void {
    const epoch = Math.floor((this.#clock.now() - agoMs) / this.#bucketMs);
    const i = ((epoch % BUCKETS) + BUCKETS) % BUCKETS;
    if (this.#epochs[i] === epoch) this.#retries[i]! -= 1;
  }

  /** Retries refused because the budget was spent, since construction. */
  get rejected(): number {
    return this.#rejected;
  }
}
