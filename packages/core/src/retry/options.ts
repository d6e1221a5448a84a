import { type Clock, type Random, systemClock } from '../clock/clock.js';
import { type OptionNames, OptionsValidator } from '../errors/validate.js';
import { type Backoff, exponentialSchedule } from './backoff.js';
import { checkBudgetOptions, isRetryBudget, RetryBudget, type RetryBudgetOptions } from './budget.js';

export interface RetryOptions {
  /** Total calls, including the first (so `1` never retries). @default 4 */
  maxAttempts?: number;
  /** Wait before each retry. @default backoff.exponential({ initialMs: 100, multiplier: 2, maxMs: 5_000 }) */
  backoff?: Backoff;
  /** Which errors are retried. @default handle.transient() */
  handle?: (error: unknown) => boolean;
  /**
   * Honour `Retry-After` (or an error's `retryAfterMs`): wait the longer of the backoff and
   * the server's delay plus up to 10 % jitter (≤ 1 s); past `maxMs`, give up at once.
   * `false` ignores it. @default { maxMs: 60_000 }
   */
  retryAfter?: boolean | { maxMs?: number };
  /** Total time for all attempts and waits; gives up at once when the next wait would pass it. */
  deadlineMs?: number;
  /** A retry budget shared by every call through this policy (or several, when an instance is passed). Off by default. */
  budget?: RetryBudget | RetryBudgetOptions;
  /** Called before each wait; the same as subscribing with `onRetry`. */
  onRetry?: (event: { attempt: number; delayMs: number; error: unknown }) => void;
  /** Name stamped on events. @default 'retry' */
  name?: string;
  clock?: Clock;
  random?: Random;
}

/** Every option `retry` takes; any other name is rejected. */
export const RETRY_OPTION_NAMES = {
  maxAttempts: true,
  backoff: true,
  handle: true,
  retryAfter: true,
  deadlineMs: true,
  budget: true,
  onRetry: true,
  name: true,
  clock: true,
  random: true,
} as const satisfies OptionNames<RetryOptions>;

export const RETRY_DEFAULTS = {
  maxAttempts: 4,
  backoff: /* @__PURE__ */ exponentialSchedule(100, 2, 5_000), // backoff.exponential({ initialMs: 100, multiplier: 2, maxMs: 5_000 })
  retryAfterMaxMs: 60_000,
  name: 'retry',
} as const;

export interface ResolvedRetryOptions {
  maxAttempts: number;
  backoff: Backoff;
  retryAfterMaxMs: number | undefined;
  deadlineMs: number | undefined;
  budget: RetryBudget | undefined;
  name: string;
}

const isBackoff = (v: unknown): boolean =>
  typeof v === 'object' && v !== null && typeof (v as Backoff).delay === 'function';

export function resolveRetryOptions(options: RetryOptions): ResolvedRetryOptions {
  const v = new OptionsValidator('retry');
  const o = v.known(options, RETRY_OPTION_NAMES);
  v.integer('maxAttempts', o.maxAttempts, { min: 1 });
  v.check(o.backoff === undefined || isBackoff(o.backoff), 'backoff', o.backoff, 'a Backoff');
  v.predicate('handle', o.handle);
  v.function('onRetry', o.onRetry);
  v.number('deadlineMs', o.deadlineMs, { gt: 0 });
  v.string('name', o.name);
  v.clock('clock', o.clock);
  v.predicate('random', o.random);
  const retryAfter = o.retryAfter;
  if (typeof retryAfter === 'object' && retryAfter !== null) {
    v.number('retryAfter.maxMs', v.known(retryAfter, { maxMs: true }, 'retryAfter').maxMs, { min: 0 });
  } else
    v.check(
      retryAfter === undefined || typeof retryAfter === 'boolean',
      'retryAfter',
      retryAfter,
      'true, false or { maxMs }',
    );
  const given = o.budget;
  const shared = isRetryBudget(given); // an instance, of this copy of core or of another
  if (!shared) checkBudgetOptions(v, given, 'budget');
  v.done();
  const retryAfterMaxMs =
    retryAfter === false
      ? undefined
      : typeof retryAfter === 'object'
        ? (retryAfter.maxMs ?? RETRY_DEFAULTS.retryAfterMaxMs)
        : RETRY_DEFAULTS.retryAfterMaxMs;
  const budget =
    given === undefined
      ? undefined
      : shared
        ? given
        : // The retry's clock, also for a `clock: undefined` (a config value not set).
          new RetryBudget({ ...given, clock: given.clock ?? options.clock ?? systemClock });
  return {
    maxAttempts: options.maxAttempts ?? RETRY_DEFAULTS.maxAttempts,
    backoff: options.backoff ?? RETRY_DEFAULTS.backoff,
    retryAfterMaxMs,
    deadlineMs: options.deadlineMs,
    budget,
    name: options.name ?? RETRY_DEFAULTS.name,
  };
}
