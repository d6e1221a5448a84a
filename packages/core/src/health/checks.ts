import { type OptionNames, OptionsValidator } from '../errors/validate.js';
import type { HealthCheck, HealthCheckDetail } from './options.js';

/** Anything with a breaker's `state` (`circuitBreaker(...)` has one). */
export interface BreakerLike {
  readonly state: string;
}

/**
 * Reports a breaker's state: `closed` passes, `half-open` warns, `open` and `isolated` fail.
 *
 * @example
 * probes.register('payments:circuit', breakerCheck(paymentsBreaker));
 */
export function breakerCheck(breaker: BreakerLike): HealthCheck {
  const v = new OptionsValidator('breakerCheck');
  v.check(
    typeof breaker === 'object' && breaker !== null && 'state' in breaker,
    'breaker',
    breaker,
    'an object with a state',
  );
  v.done();
  return (): HealthCheckDetail => {
    const state = breaker.state;
    if (state === 'open' || state === 'isolated') {
      return { status: 'fail', observedValue: state, output: `circuit is ${state}` };
    }
    if (state === 'half-open') return { status: 'warn', observedValue: state, output: 'circuit is half-open' };
    return { status: 'pass', observedValue: state };
  };
}

/** Anything that reports its free slots, as `bulkhead(...)` does. */
export interface BulkheadLike {
  /** Execution slots free now. */
  readonly executionSlots: number;
  /** Queue places free now. */
  readonly queueSlots: number;
  readonly limit?: number;
  readonly queue?: number;
}

export interface BulkheadCheckOptions {
  /** Concurrent executions the bulkhead allows. @default the bulkhead's own `limit`, read at each run (an adaptive limit moves) */
  limit?: number;
  /** Queue places the bulkhead has. @default the bulkhead's own `queue`, else 0 */
  queue?: number;
  /** Saturation (used slots and queue places over all of them, 0–1) from which the check warns. @default 0.8 */
  warnAt?: number;
}

export const BULKHEAD_CHECK_DEFAULTS = { warnAt: 0.8 } as const;

/** Every option of `bulkheadCheck`; any other name is rejected. */
export const BULKHEAD_CHECK_OPTION_NAMES = {
  limit: true,
  queue: true,
  warnAt: true,
} as const satisfies OptionNames<BulkheadCheckOptions>;

/** A bulkhead's saturation in percent: warns from `warnAt`, never fails (a full bulkhead sheds load as designed). */
export function bulkheadCheck(bulkhead: BulkheadLike, options: BulkheadCheckOptions = {}): HealthCheck {
  const v = new OptionsValidator('bulkheadCheck');
  const o = v.known(options, BULKHEAD_CHECK_OPTION_NAMES);
  const limit = o.limit ?? bulkhead?.limit;
  const queue = o.queue ?? bulkhead?.queue ?? 0;
  v.check(
    typeof bulkhead?.executionSlots === 'number' && typeof bulkhead?.queueSlots === 'number',
    'bulkhead',
    bulkhead,
    'an object with executionSlots and queueSlots',
  );
  v.required('limit', limit).integer('limit', limit, { min: 1 });
  v.integer('queue', queue, { min: 0 });
  v.number('warnAt', o.warnAt, { min: 0, max: 1 });
  v.done();
  const warnAt = options.warnAt ?? BULKHEAD_CHECK_DEFAULTS.warnAt;
  // Without a limit of its own, the check reads the bulkhead's at each run: an adaptive one moves.
  const limitNow = o.limit === undefined ? () => bulkhead.limit ?? limit! : () => limit!;
  return (): HealthCheckDetail => {
    const current = limitNow();
    const used = current - bulkhead.executionSlots + (queue - bulkhead.queueSlots);
    const saturation = Math.min(1, Math.max(0, used / (current + queue)));
    const percent = Math.round(saturation * 1_000) / 10;
    return saturation >= warnAt
      ? { status: 'warn', observedValue: percent, observedUnit: 'percent', output: `bulkhead ${percent} % saturated` }
      : { status: 'pass', observedValue: percent, observedUnit: 'percent' };
  };
}

/**
 * A check from any function: it passes when `fn` returns or resolves (whatever the value)
 * and fails when it throws or rejects.
 *
 * @example
 * probes.register('redis', functionCheck((signal) => redis.ping()), { componentType: 'datastore' });
 */
export function functionCheck(fn: (signal: AbortSignal) => unknown): HealthCheck {
  const v = new OptionsValidator('functionCheck');
  v.required('fn', fn).function('fn', fn);
  v.done();
  return async (signal) => {
    await fn(signal);
    return true;
  };
}
