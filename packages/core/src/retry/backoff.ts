import type { Random } from '../clock/clock.js';
import { type OptionNames, OptionsValidator } from '../errors/validate.js';

/**
 * A backoff schedule: an immutable value whose `delay` is a pure function of the retry
 * number, the previous delay and the random source, so one schedule serves any number of
 * concurrent calls.
 */
export interface Backoff {
  /**
   * Milliseconds to wait before retry number `retry` (1 = the first retry).
   * `previousMs` is the delay returned for the retry before (0 before the first).
   */
  delay(retry: number, previousMs: number, random: Random): number;
  /** The longest delay this schedule returns. */
  readonly maxMs: number;
}

/**
 * `backoff.delay(...)`, checked: a custom Backoff's NaN or negative delay would retry at once,
 * an infinite one wait forever, a string be added as text. Throws a `ConfigurationError`.
 */
export function delayOf(backoff: Backoff, retry: number, previousMs: number, random: Random): number {
  const ms = backoff.delay(retry, previousMs, random);
  if (typeof ms === 'number' && ms >= 0 && ms < Number.POSITIVE_INFINITY) return ms;
  return new OptionsValidator('backoff').check(false, 'delay', ms, 'a finite number >= 0').done() as never;
}

export type Jitter = 'none' | 'full' | 'equal' | 'decorrelated';

export interface ExponentialOptions {
  /** First delay (before jitter). @default 100 */
  initialMs?: number;
  /** Growth factor per retry. @default 2 */
  multiplier?: number;
  /** Cap on any delay. @default 5_000 */
  maxMs?: number;
  /**
   * `none`: `min(maxMs, initialMs·multiplier^(n-1))`; `full`: uniform in `[0, that]`;
   * `equal`: half of it plus uniform in `[0, half]`; `decorrelated`:
   * `min(maxMs, uniform in [initialMs, previous·3])` (the AWS Architecture Blog formulas).
   * @default 'none'
   */
  jitter?: Jitter;
}

export const EXPONENTIAL_DEFAULTS = { initialMs: 100, multiplier: 2, maxMs: 5_000, jitter: 'none' } as const;
const JITTERS: readonly Jitter[] = ['none', 'full', 'equal', 'decorrelated'];

/** Every option of `backoff.exponential`; any other name is rejected. */
export const EXPONENTIAL_OPTION_NAMES = {
  initialMs: true,
  multiplier: true,
  maxMs: true,
  jitter: true,
} as const satisfies OptionNames<ExponentialOptions>;

const validDelay = (v: OptionsValidator, option: string, value: unknown) => v.number(option, value, { min: 0 });

/** The same delay before every retry. */
function constant(ms: number): Backoff {
  const v = new OptionsValidator('backoff.constant');
  validDelay(v, 'ms', ms).required('ms', ms).done();
  return Object.freeze({ maxMs: ms, delay: () => ms });
}

/** `ms`, `2·ms`, `3·ms`, ... capped at `maxMs` (default: no cap). */
function linear(ms: number, options: { maxMs?: number } = {}): Backoff {
  const v = new OptionsValidator('backoff.linear');
  const given = v.known(options, { maxMs: true }).maxMs;
  validDelay(v, 'ms', ms).required('ms', ms);
  validDelay(v, 'maxMs', given);
  // A cap below the first delay is a mistake, as in `exponential` (compared once both are sound).
  if (!v.issues.length) v.check(!(given! < ms), 'maxMs', given, `a number >= ms (${ms})`);
  v.done();
  const maxMs = given ?? Number.POSITIVE_INFINITY;
  return Object.freeze({ maxMs, delay: (retry: number) => Math.min(maxMs, ms * retry) });
}

/** Exponential growth with optional jitter; see {@link ExponentialOptions}. */
function exponential(options: ExponentialOptions = {}): Backoff {
  const v = new OptionsValidator('backoff.exponential');
  const o = v.known(options, EXPONENTIAL_OPTION_NAMES);
  validDelay(v, 'initialMs', o.initialMs);
  v.number('multiplier', o.multiplier, { min: 1 });
  validDelay(v, 'maxMs', o.maxMs);
  v.oneOf('jitter', o.jitter, JITTERS);
  // `??`, not a spread over the defaults: `{ initialMs: undefined }` (a config value not set) means the default.
  const initialMs = o.initialMs ?? EXPONENTIAL_DEFAULTS.initialMs;
  const maxMs = o.maxMs ?? EXPONENTIAL_DEFAULTS.maxMs;
  // Name the option the user gave: an initialMs above the default maxMs is initialMs's fault.
  // Compared only when each is sound: a Symbol throws in a comparison.
  if (!v.issues.length && maxMs < initialMs) {
    if (o.maxMs === undefined) v.check(false, 'initialMs', initialMs, `a number <= the default maxMs (${maxMs})`);
    else v.check(false, 'maxMs', maxMs, `a number >= initialMs (${initialMs})`);
  }
  v.done();
  const multiplier = o.multiplier ?? EXPONENTIAL_DEFAULTS.multiplier;
  const jitter = o.jitter ?? EXPONENTIAL_DEFAULTS.jitter;
  const schedule = exponentialSchedule(initialMs, multiplier, maxMs);
  const base = schedule.delay;
  const jittered: Record<Exclude<Jitter, 'none'>, Backoff['delay']> = {
    full: (retry, previousMs, random) => random() * base(retry, previousMs, random),
    equal: (retry, previousMs, random) => {
      const half = base(retry, previousMs, random) / 2;
      return half + random() * half;
    },
    decorrelated: (_retry, previousMs, random) => {
      const previous = Math.max(initialMs, previousMs);
      return Math.min(maxMs, initialMs + random() * (previous * 3 - initialMs));
    },
  };
  return jitter === 'none' ? schedule : Object.freeze({ maxMs, delay: jittered[jitter] });
}

/**
 * The exponential schedule without jitter, `min(maxMs, initialMs·multiplier^(retry−1))`, from
 * values already checked: `exponential` validates what users pass and the retry default is a
 * constant, so a bundle that never calls `backoff.exponential` carries neither its
 * validation nor its jitter.
 */
export function exponentialSchedule(initialMs: number, multiplier: number, maxMs: number): Backoff {
  return Object.freeze({ maxMs, delay: (retry: number) => Math.min(maxMs, initialMs * multiplier ** (retry - 1)) });
}

/** Backoff schedules for `retry({ backoff })`. */
export const backoff = { constant, linear, exponential };
