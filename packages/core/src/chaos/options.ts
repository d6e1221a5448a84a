import type { Clock, Random } from '../clock/clock.js';
import { type OptionNames, OptionsValidator } from '../errors/validate.js';
import type { ExecuteContext } from '../policy/policy.js';

/** Whether chaos is on: a constant, or a function read at every call (a feature flag). */
export type ChaosEnabled = boolean | ((context: ExecuteContext) => boolean);

export interface ChaosOptions<R = never> {
  /**
   * Share of calls (0–1) that fail with `fault`, or resolve with `outcome`, instead of running.
   * @default 1 once `fault` or `outcome` is given (else no faults)
   */
  faultRate?: number;
  /** What an injected fault throws, or a sync function of the context building it. @default an `ECONNRESET` error */
  fault?: Error | ((context: ExecuteContext) => unknown);
  /** Resolve with this (a value, or a function of the context) instead of failing; not with `fault`. */
  outcome?: R | ((context: ExecuteContext) => R | PromiseLike<R>);
  /** Delay injected before the call (and before any fault), in ms. @default 0 (none) */
  latencyMs?: number;
  /** Share of calls (0–1) delayed by `latencyMs`. @default 1 */
  latencyRate?: number;
  /** `false` calls straight through; a function, read per call, injects on `true`. @default true */
  enabled?: ChaosEnabled;
  /** Name stamped on events. @default 'chaos' */
  name?: string;
  /** For latency. @default systemClock */
  clock?: Clock;
  /** Decides which calls are hit; seed it (`seededRandom(42)`) for repeatable runs. @default systemRandom */
  random?: Random;
}

/** Every option `chaos` takes; any other name is rejected. */
export const CHAOS_OPTION_NAMES = {
  faultRate: true,
  fault: true,
  outcome: true,
  latencyMs: true,
  latencyRate: true,
  enabled: true,
  name: true,
  clock: true,
  random: true,
} as const satisfies OptionNames<ChaosOptions<unknown>>;

export const CHAOS_DEFAULTS = {
  faultRate: 1,
  latencyMs: 0,
  latencyRate: 1,
  enabled: true,
  name: 'chaos',
} as const;

export interface ResolvedChaosOptions {
  /** 0 when no fault or outcome is to be injected. */
  faultRate: number;
  latencyMs: number;
  latencyRate: number;
  enabled: ChaosEnabled;
  name: string;
}

const RATE = { min: 0, max: 1 } as const;

export function resolveChaosOptions<R>(options: ChaosOptions<R>): ResolvedChaosOptions {
  const v = new OptionsValidator('chaos');
  const given = v.known(options, CHAOS_OPTION_NAMES) as ChaosOptions<R>;
  v.number('faultRate', given.faultRate, RATE);
  v.number('latencyRate', given.latencyRate, RATE);
  v.number('latencyMs', given.latencyMs, { min: 0 });
  const { fault, outcome, enabled } = given;
  // An async fault answers a promise: the call would reject with the promise, not an error.
  v.check(
    fault === undefined ||
      fault instanceof Error ||
      (typeof fault === 'function' && fault.constructor.name !== 'AsyncFunction'),
    'fault',
    fault,
    'an Error or (context) => error, not async',
  );
  v.check(fault === undefined || outcome === undefined, 'outcome', outcome, 'left out when fault is given');
  v.check(
    given.latencyRate === undefined || given.latencyMs !== undefined,
    'latencyMs',
    given.latencyMs,
    'a delay in ms, given with latencyRate',
  );
  v.check(
    enabled === undefined ||
      typeof enabled === 'boolean' ||
      (typeof enabled === 'function' && enabled.constructor.name !== 'AsyncFunction'),
    'enabled',
    enabled,
    'true, false or (context) => boolean, not async',
  );
  v.string('name', given.name);
  v.clock('clock', given.clock);
  v.predicate('random', given.random);
  v.done();
  const injectsFaults = given.faultRate !== undefined || fault !== undefined || outcome !== undefined;
  return {
    faultRate: injectsFaults ? (given.faultRate ?? CHAOS_DEFAULTS.faultRate) : 0,
    latencyMs: given.latencyMs ?? CHAOS_DEFAULTS.latencyMs,
    latencyRate: given.latencyRate ?? CHAOS_DEFAULTS.latencyRate,
    enabled: enabled ?? CHAOS_DEFAULTS.enabled,
    name: given.name ?? CHAOS_DEFAULTS.name,
  };
}
