import type { Clock } from '../clock/clock.js';
import { OptionsValidator } from '../errors/validate.js';

/**
 * What happens when the time limit passes.
 * - `cooperative`: the signal passed to the function aborts and the policy waits for the
 *   function to settle; if it then rejects, the call rejects with `TimeoutError`.
 * - `aggressive`: the call rejects with `TimeoutError` at once and the signal aborts.
 */
export type TimeoutStrategy = 'cooperative' | 'aggressive';

/**
 * A time limit in milliseconds, or a function read at the start of each call (for example
 * a latency percentile). A function result that is not a finite number above zero runs
 * that call without a limit (e.g. before a latency sketch has data).
 */
export type TimeoutMs = number | (() => number);

export interface TimeoutOptions {
  /** See {@link TimeoutStrategy}. @default 'cooperative' */
  strategy?: TimeoutStrategy;
  /** Name stamped on events. @default 'timeout' */
  name?: string;
  /** @default systemClock */
  clock?: Clock;
}

/** A soft/hard pair for long tasks: the signal aborts at `softMs`, the call rejects at `hardMs`. */
export interface SoftHardTimeoutOptions {
  /** When the signal passed to the function aborts (ms after the call starts). */
  softMs: number;
  /** When the call rejects with `TimeoutError` whether or not the function has settled. Must be ≥ `softMs`. */
  hardMs: number;
  /** Name stamped on events. @default 'timeout' */
  name?: string;
  /** @default systemClock */
  clock?: Clock;
}

export const TIMEOUT_DEFAULTS = {
  strategy: 'cooperative',
  name: 'timeout',
} as const satisfies { strategy: TimeoutStrategy; name: string };

export interface ResolvedTimeoutOptions {
  /** Fixed limit (ms) or a source read per call. */
  ms: TimeoutMs;
  /** For a soft/hard pair: the extra ms between the signal aborting and the call rejecting. */
  hardGapMs: number | undefined;
  strategy: TimeoutStrategy;
  name: string;
}

const STRATEGIES: readonly TimeoutStrategy[] = ['cooperative', 'aggressive'];

export function resolveTimeoutOptions(
  msOrPair: TimeoutMs | SoftHardTimeoutOptions,
  options: TimeoutOptions,
): ResolvedTimeoutOptions {
  const v = new OptionsValidator('timeout');
  if (typeof msOrPair === 'object' && msOrPair !== null) {
    const { softMs, hardMs } = msOrPair;
    v.required('softMs', softMs).number('softMs', softMs, { gt: 0 });
    v.required('hardMs', hardMs).number('hardMs', hardMs, { gt: 0 });
    v.check(
      typeof softMs !== 'number' || typeof hardMs !== 'number' || hardMs >= softMs,
      'hardMs',
      hardMs,
      'a number >= softMs',
    );
    v.string('name', msOrPair.name);
    v.done();
    return {
      ms: softMs,
      hardGapMs: hardMs - softMs,
      strategy: 'cooperative',
      name: msOrPair.name ?? TIMEOUT_DEFAULTS.name,
    };
  }
  if (typeof msOrPair !== 'function') v.required('ms', msOrPair).number('ms', msOrPair, { gt: 0 });
  v.oneOf('strategy', options.strategy, STRATEGIES);
  v.string('name', options.name);
  v.done();
  return {
    ms: msOrPair,
    hardGapMs: undefined,
    strategy: options.strategy ?? TIMEOUT_DEFAULTS.strategy,
    name: options.name ?? TIMEOUT_DEFAULTS.name,
  };
}
