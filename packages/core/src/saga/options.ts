import type { Clock, Random } from '../clock/clock.js';
import { type OptionNames, OptionsValidator } from '../errors/validate.js';
import type { Policy } from '../policy/policy.js';
import { storeNamespace } from '../store/namespace.js';
import type { Store } from '../store/store.js';
import { isStore } from '../store/store.js';

/** What a step's `run` receives. */
export interface SagaStepContext<I = unknown> {
  /** The input passed to `execute`. */
  readonly input: I;
  /** Results of the steps that completed before this one, by step name. */
  readonly results: Readonly<Record<string, unknown>>;
  /** Aborted when the caller cancels (`execute(input, { signal })`). Always live during compensation. */
  readonly signal: AbortSignal;
  /** 1 for the first call, incremented by the step's retry policy. */
  readonly attempt: number;
  /** The id of this saga execution (stable across a crash and `recover()`). */
  readonly sagaId: string;
}

/** One step: an action and, optionally, the action that undoes it. */
export interface SagaStep<I = unknown> {
  /** Unique within the saga; the key of its result and of its entry in the durable log. */
  readonly name: string;
  /** Does the step's work; its resolved value becomes `results[name]` (JSON when a `store` is used). */
  run(context: SagaStepContext<I>): unknown;
  /**
   * Undoes the step. Called with the step's result (`undefined` when a crash interrupted
   * the step, so its effect is unknown). Must be idempotent: it is retried.
   */
  compensate?(context: SagaStepContext<I>, result: unknown): unknown;
  /** A policy (e.g. `retry(...)`) around `run`. None by default: one attempt. */
  readonly retry?: Policy;
  /** A policy around `compensate`, replacing the saga's `compensationRetry`. */
  readonly compensationRetry?: Policy;
}

export interface SagaOptions {
  /** Where the saga log is written around each step, for `recover()`; without it the saga lives in memory only. */
  store?: Store;
  /**
   * The policy around every compensation without its own.
   * @default retry({ maxAttempts: 3, handle: () => true, backoff: exponential 100 ms … 5 s })
   */
  compensationRetry?: Policy;
  /**
   * A log whose owner has not renewed it this long is taken over by `recover()`: more than
   * the longest pause of a live process. @default 300_000 (5 minutes)
   */
  recoverAfterMs?: number;
  /** How long an unfinished or failed log is kept in the store. @default 604_800_000 (7 days) */
  logTtlMs?: number;
  /** Most logs one `recover()` call takes over. @default 1_000 */
  maxRecoverPerCall?: number;
  /** The logs' namespace: `{saga:<keyPrefix>|<id>}`. @default the saga's name */
  keyPrefix?: string;
  clock?: Clock;
  random?: Random;
}

/** Every option `saga` takes; any other name is rejected. */
export const SAGA_OPTION_NAMES = {
  store: true,
  compensationRetry: true,
  recoverAfterMs: true,
  logTtlMs: true,
  maxRecoverPerCall: true,
  keyPrefix: true,
  clock: true,
  random: true,
} as const satisfies OptionNames<SagaOptions>;

export const SAGA_DEFAULTS = {
  recoverAfterMs: 300_000,
  logTtlMs: 604_800_000,
  maxRecoverPerCall: 1_000,
  compensationMaxAttempts: 3,
} as const;

export interface ResolvedSagaOptions {
  store: Store | undefined;
  compensationRetry: Policy | undefined;
  recoverAfterMs: number;
  logTtlMs: number;
  maxRecoverPerCall: number;
  keyPrefix: string;
}

const isPolicy = (v: unknown): boolean =>
  typeof v === 'object' && v !== null && typeof (v as Policy).execute === 'function';

export function resolveSagaOptions(name: unknown, options: SagaOptions): ResolvedSagaOptions {
  const v = new OptionsValidator('saga');
  v.required('name', name).string('name', name);
  const o = v.known(options, SAGA_OPTION_NAMES);
  v.check(o.store === undefined || isStore(o.store), 'store', o.store, 'a Store');
  v.check(
    o.compensationRetry === undefined || isPolicy(o.compensationRetry),
    'compensationRetry',
    o.compensationRetry,
    'a Policy',
  );
  v.number('recoverAfterMs', o.recoverAfterMs, { gt: 0 });
  v.number('logTtlMs', o.logTtlMs, { gt: 0 });
  v.integer('maxRecoverPerCall', o.maxRecoverPerCall, { min: 1 });
  v.string('keyPrefix', o.keyPrefix);
  // The log's options without a log to keep are a mistake, and a log that expires before
  // recover() may take it leaves a crashed saga's steps undone for good.
  for (const n of ['recoverAfterMs', 'logTtlMs', 'maxRecoverPerCall', 'keyPrefix'] as const) {
    v.check(o.store !== undefined || o[n] === undefined, n, o[n], 'none without a store');
  }
  // Compared only when each is sound: a Symbol throws in a comparison.
  const ttl = o.logTtlMs ?? SAGA_DEFAULTS.logTtlMs;
  if (!v.issues.length)
    v.check(ttl > (o.recoverAfterMs ?? SAGA_DEFAULTS.recoverAfterMs), 'logTtlMs', ttl, 'more than recoverAfterMs');
  v.clock('clock', o.clock);
  v.predicate('random', o.random);
  v.done();
  return {
    store: options.store,
    compensationRetry: options.compensationRetry,
    recoverAfterMs: options.recoverAfterMs ?? SAGA_DEFAULTS.recoverAfterMs,
    logTtlMs: options.logTtlMs ?? SAGA_DEFAULTS.logTtlMs,
    maxRecoverPerCall: options.maxRecoverPerCall ?? SAGA_DEFAULTS.maxRecoverPerCall,
    keyPrefix: storeNamespace('saga', options.keyPrefix ?? String(name)),
  };
}

/** Every key of a step; any other is a problem (a misspelt `compensate` would lose the compensation). */
export const SAGA_STEP_NAMES = {
  name: true,
  run: true,
  compensate: true,
  retry: true,
  compensationRetry: true,
} as const satisfies OptionNames<SagaStep>;

/** Checks one step definition; returns the problems found (empty when fine). */
export function stepProblems(step: unknown): string[] {
  if (typeof step !== 'object' || step === null) return ['a step must be an object'];
  const s = step as SagaStep;
  const keys = new OptionsValidator('saga step');
  keys.known(s, SAGA_STEP_NAMES, 'step');
  const problems = keys.issues.map((i) => `${i.option}: expected ${i.allowed}`);
  if (typeof s.name !== 'string' || s.name.length === 0) problems.push('name must be a non-empty string');
  // `results.__proto__ = r` would set the prototype, not a result.
  if (s.name === '__proto__') problems.push('name must not be __proto__ (results[name] holds the result)');
  if (typeof s.run !== 'function') problems.push('run must be a function');
  if (s.compensate !== undefined && typeof s.compensate !== 'function') problems.push('compensate must be a function');
  if (s.retry !== undefined && !isPolicy(s.retry)) problems.push('retry must be a Policy');
  if (s.compensationRetry !== undefined && !isPolicy(s.compensationRetry)) {
    problems.push('compensationRetry must be a Policy');
  }
  return problems;
}
