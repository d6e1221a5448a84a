import type { Clock } from '../clock/clock.js';
import { coarseSystemClock } from '../clock/coarse-clock.js';
import { unknownKey } from '../errors/bag.js';
import { isStoreUnavailableError, RateLimitExceededError, type StoreUnavailableError } from '../errors/errors.js';
import { type OptionNames, OptionsValidator } from '../errors/validate.js';
import { Emitter, type Subscribe } from '../events/emitter.js';
import { ReportGate } from '../events/report-gate.js';
import {
  callError,
  contextFor,
  type ExecuteContext,
  invoke,
  isAbortSignal,
  type Policy,
  type PolicyEvent,
  type PolicyFn,
} from '../policy/policy.js';
import { isMemoryStore, MemoryStore } from '../store/memory.js';
import { encodeSegment, KEY_CLOSE, NAMESPACE_END, storeNamespace } from '../store/namespace.js';
import type { Store, StoreOperation } from '../store/store.js';
import { requireSupport, storeStep } from '../store/supports.js';
import { isContextAborted } from '../timeout/lazy-context.js';
import { costError, fitKey, keyError, type RateLimitAlgorithm, type RateLimitDecision } from './algorithm.js';
import { DenialCache } from './denial-cache.js';
import {
  checkWait,
  RATE_LIMITER_DEFAULTS,
  type RateLimiterOptions,
  validateRateLimiterOptions,
  WAIT_OPTION_NAMES,
  type WaitOptions,
} from './options.js';
import { WaitQueues } from './wait-queue.js';

/**
 * `rate_limited`: a request was denied (`consume`) or a wait gave up (`wait`, `execute`).
 * `store_error`: the store failed and `onStoreError` decided; reported at most once a
 * minute, with the failures since the last report that were not (`unreported`).
 */
export type RateLimitEvent =
  | (PolicyEvent & { readonly type: 'rate_limited'; readonly key: string; readonly retryAfterMs: number })
  | (PolicyEvent & {
      readonly type: 'store_error';
      readonly key: string;
      readonly error: StoreUnavailableError;
      readonly unreported: number;
    });

/** Store failures are reported at most this often (each is counted in `stats.storeErrors`). */
const STORE_ERROR_REPORT_MS = 60_000;

/** Counters since the limiter was built. */
export interface RateLimitStats {
  /** `consume` and `wait` calls (peeks are not counted). */
  readonly requests: number;
  readonly allowed: number;
  /** Denied consumes and waits rejected for exceeding `maxWaitMs`. */
  readonly blocked: number;
  /** Waits aborted by their signal. */
  readonly aborted: number;
  /** Time spent in `wait` by calls that resolved or gave up, in ms. */
  readonly totalWaitMs: number;
  /** Decisions (peeks included) the store failed to make, decided by `onStoreError`. */
  readonly storeErrors: number;
  /** Denials repeated from the denial cache, with no store round trip (counted in `blocked` too). */
  readonly cachedDenials: number;
}

/** Options of {@link RateLimiter.policy}. */
export interface RateLimitPolicyOptions {
  /** The key every call consumes from, or a function of the call's context. */
  key: string | ((context: ExecuteContext) => string);
  /** @default 1 */
  cost?: number;
  /** `0` rejects at once instead of waiting. @default the limiter's maxWaitMs */
  maxWaitMs?: number;
}

/** Every option of `limiter.policy(...)`; any other name is rejected. */
export const RATE_LIMIT_POLICY_OPTION_NAMES = {
  key: true,
  cost: true,
  maxWaitMs: true,
} as const satisfies OptionNames<RateLimitPolicyOptions>;

// biome-ignore lint/suspicious/noExplicitAny: any algorithm's state.
type AnyAlgorithm = RateLimitAlgorithm<any>;

/**
 * A keyed rate limiter over one or several algorithms and a store. Decisions are results;
 * only `wait`, `execute` and the policy turn a denial into `RateLimitExceededError`.
 */
export class RateLimiter {
  readonly name: string;
  readonly #algorithms: readonly AnyAlgorithm[];
  readonly #single: AnyAlgorithm | undefined;
  readonly #suffixes: readonly string[];
  readonly #maxCost: number;
  readonly #store: Store;
  readonly #sync: MemoryStore | undefined;
  readonly #space: number;
  readonly #prefix: string;
  readonly #clock: Clock;
  readonly #maxWaitMs: number;
  readonly #emitter = new Emitter<RateLimitEvent>();
  readonly #queues: WaitQueues;
  #lastKey: string | undefined;
  #lastStoreKey = '';
  #requests = 0;
  #allowed = 0;
  #blocked = 0;
  #aborted = 0;
  #totalWaitMs = 0;
  readonly #onStoreError: 'open' | 'closed' | Store;
  /** The decision of `onStoreError: 'open'`. */
  readonly #passed: RateLimitDecision;
  #storeErrors = 0;
  readonly #reports = new ReportGate(STORE_ERROR_REPORT_MS);
  /** The latest denial of each key, over a store that is not the in-process memory store. */
  readonly #denials: DenialCache | undefined;

  // @internal `namespace`: the store namespace, when not `{rl:<prefix or name>|` (a group's `{rl:<group>:<operation>|`).
  constructor(options: RateLimiterOptions, namespace?: string) {
    validateRateLimiterOptions(options);
    // A frozen copy (also what `algorithms` returns): the caller's array pushed to later must not change the limits.
    const algorithms: readonly AnyAlgorithm[] = Object.freeze(
      Array.isArray(options.algorithm) ? [...options.algorithm] : [options.algorithm as AnyAlgorithm],
    );
    this.#algorithms = algorithms;
    this.#single = algorithms.length === 1 ? algorithms[0] : undefined;
    // Several limits keep one key each: `{<namespace><key>}|<i>.<kind>`, after the hash tag
    // so all of a key's limits share one slot. A suffix holds one `|`, its first character,
    // and no `}`, so the last `}` of a store key tells key and suffix apart.
    this.#suffixes = algorithms.map((a, i) => `${NAMESPACE_END}${i}.${encodeSegment(a.kind)}`);
    this.#maxCost = Math.min(...algorithms.map((a) => a.maxCost));
    this.name = options.name ?? RATE_LIMITER_DEFAULTS.name;
    // A store of its own needs no namespace; a shared one does (see storeNamespace).
    const own = options.store === undefined && options.prefix === undefined;
    this.#prefix = namespace ?? (own ? '' : storeNamespace('rl', options.prefix ?? this.name));
    this.#store = options.store ?? new MemoryStore();
    const transitions = algorithms.flatMap((a) => [a.consume, a.peek]);
    requireSupport('rateLimiter', this.#store, transitions);
    this.#onStoreError = options.onStoreError ?? RATE_LIMITER_DEFAULTS.onStoreError;
    if (typeof this.#onStoreError === 'object') requireSupport('rateLimiter', this.#onStoreError, transitions);
    const limit = Math.min(...algorithms.map((a) => a.limit));
    this.#passed = {
      allowed: true,
      limit,
      remaining: limit,
      resetMs: 0,
      retryAfterMs: 0,
      degraded: true,
      uncounted: true,
    };
    this.#sync = isMemoryStore(this.#store) ? this.#store : undefined;
    // In the memory store a key space replaces the prefix: no string is built per call.
    this.#space = this.#sync === undefined ? 0 : this.#sync.space(this.#prefix);
    const cache = options.denialCache ?? RATE_LIMITER_DEFAULTS.denialCache;
    this.#denials =
      this.#sync !== undefined || cache === false
        ? undefined
        : new DenialCache(cache.maxKeys ?? RATE_LIMITER_DEFAULTS.denialCache.maxKeys);
    // A 1 ms cached clock by default: a limiter reads the time on every request (see CoarseClock).
    this.#clock = options.clock ?? coarseSystemClock;
    this.#maxWaitMs = options.maxWaitMs ?? RATE_LIMITER_DEFAULTS.maxWaitMs;
    const sync = this.#sync;
    const single = this.#single;
    const space = this.#space;
    // Queues are kept under the key the caller gave (fitted when consumed), so a store_error names it.
    this.#queues = new WaitQueues(
      this.#clock,
      sync !== undefined && single !== undefined
        ? (key, cost) => sync.applySync(fitKey(key), single.consume, cost, this.#clock.now(), space)
        : (key, cost) => this.#apply(key, cost, false),
      options.maxWaiters ?? RATE_LIMITER_DEFAULTS.maxWaiters,
    );
  }

  /** The limits this limiter applies, in the order given (for `RateLimit-Policy` headers). */
  get algorithms(): readonly RateLimitAlgorithm[] {
    return this.#algorithms;
  }

  /** Every `rate_limited` event. */
  get onEvent(): Subscribe<RateLimitEvent> {
    return this.#emitter.subscribe;
  }

  get stats(): RateLimitStats {
    return {
      requests: this.#requests,
      allowed: this.#allowed,
      blocked: this.#blocked,
      aborted: this.#aborted,
      totalWaitMs: this.#totalWaitMs,
      storeErrors: this.#storeErrors,
      cachedDenials: this.#denials?.hits ?? 0,
    };
  }

  /** Takes `cost` from `key` when every limit admits it; resolves with the decision either way. */
  consume(key: string, cost = 1): Promise<RateLimitDecision> {
    if (this.#sync !== undefined && this.#single !== undefined) {
      try {
        return Promise.resolve(this.consumeSync(key, cost));
      } catch (error) {
        return Promise.reject(error);
      }
    }
    if (typeof key !== 'string') return Promise.reject(keyError(key));
    if (!(typeof cost === 'number' && cost >= 0 && cost <= this.#maxCost)) {
      return Promise.reject(costError(cost, this.#maxCost));
    }
    return this.#apply(key, cost, false, true);
  }

  /** True when {@link consumeSync} can answer: one algorithm over the in-process memory store. */
  get synchronous(): boolean {
    return this.#sync !== undefined && this.#single !== undefined;
  }

  /**
   * `consume` without the promise, for hot paths over the in-process memory store with one
   * algorithm (see {@link synchronous}); throws `TypeError` with any other store.
   */
  consumeSync(key: string, cost = 1): RateLimitDecision {
    return this.#count(key, this.#applySync(key, cost, false));
  }

  /** The decision `consume(key, cost)` would return now, without consuming. */
  peek(key: string, cost = 1): Promise<RateLimitDecision> {
    if (typeof key !== 'string') return Promise.reject(keyError(key));
    if (!(typeof cost === 'number' && cost >= 0 && cost <= this.#maxCost)) {
      return Promise.reject(costError(cost, this.#maxCost));
    }
    return this.#apply(key, cost, true);
  }

  /** `peek` without the promise (a metrics scrape), as {@link consumeSync}. */
  peekSync(key: string, cost = 1): RateLimitDecision {
    return this.#applySync(key, cost, true);
  }

  #applySync(key: string, cost: number, peek: boolean): RateLimitDecision {
    const sync = this.#sync;
    const single = this.#single;
    if (sync === undefined || single === undefined) {
      const method = peek ? 'peek' : 'consume';
      throw new TypeError(`${method}Sync needs the memory store and a single algorithm; use ${method}()`);
    }
    if (typeof key !== 'string') throw keyError(key);
    if (!(typeof cost === 'number' && cost >= 0 && cost <= this.#maxCost)) throw costError(cost, this.#maxCost);
    return sync.applySync(fitKey(key), peek ? single.peek : single.consume, cost, this.#clock.now(), this.#space);
  }

  /** Forgets `key`: its next request finds every limit full. */
  async reset(key: string): Promise<void> {
    if (typeof key !== 'string') throw keyError(key);
    key = fitKey(key);
    this.#denials?.forget(key);
    const sync = this.#sync;
    if (sync !== undefined) {
      if (this.#single !== undefined) sync.deleteSync(key, this.#space);
      else for (const s of this.#suffixes) sync.deleteSync(this.#storeKey(key) + s);
      return;
    }
    const storeKey = this.#storeKey(key);
    if (this.#single !== undefined) await this.#store.delete(storeKey);
    else await Promise.all(this.#suffixes.map((s) => this.#store.delete(storeKey + s)));
  }

  /**
   * Takes `cost` from `key` as soon as every limit admits it (FIFO among this limiter's
   * waiters on the key) and resolves with the decision. Rejects with `RateLimitExceededError`
   * once the key's next admission is due past `maxWaitMs`, or with `signal.reason` when aborted.
   */
  wait(key: string, options: WaitOptions = {}): Promise<RateLimitDecision> {
    if (typeof key !== 'string') return Promise.reject(keyError(key));
    const cost = options?.cost ?? 1;
    const maxWaitMs = options?.maxWaitMs ?? this.#maxWaitMs;
    const signal = options?.signal;
    if (
      !(
        typeof cost === 'number' &&
        cost >= 0 &&
        cost <= this.#maxCost &&
        typeof maxWaitMs === 'number' &&
        maxWaitMs >= 0 &&
        maxWaitMs < Number.POSITIVE_INFINITY &&
        (signal === undefined || isAbortSignal(signal)) &&
        typeof options === 'object' &&
        options !== null &&
        unknownKey(options, WAIT_OPTION_NAMES) === undefined
      )
    ) {
      try {
        const v = new OptionsValidator('rateLimiter.wait');
        if (typeof options === 'object' && options !== null) v.known(options, WAIT_OPTION_NAMES);
        checkWait(v, cost, this.#maxCost, maxWaitMs)
          .check(
            typeof options === 'object' && options !== null,
            'options',
            options,
            'an object { cost, maxWaitMs, signal }',
          )
          .check(signal === undefined || isAbortSignal(signal), 'signal', signal, 'an AbortSignal')
          .done();
      } catch (error) {
        return Promise.reject(error);
      }
    }
    if (signal?.aborted) return Promise.reject(signal.reason); // no call at all: nothing counted
    this.#requests++;
    const started = this.#clock.now();
    return this.#queues.enqueue(key, cost, maxWaitMs, signal).then(
      (d) => {
        this.#allowed++;
        this.#totalWaitMs += this.#clock.now() - started;
        return d;
      },
      (error: unknown) => {
        if (error instanceof RateLimitExceededError) {
          this.#blocked++;
          this.#totalWaitMs += this.#clock.now() - started;
          if (this.#emitter.hasListeners)
            this.#emitter.emit({ type: 'rate_limited', policy: this.name, key, retryAfterMs: error.retryAfterMs });
        } else if (signal?.aborted) this.#aborted++;
        throw error;
      },
    );
  }

  /** Waits for `key` (see {@link wait}), then runs `fn`. */
  execute<T>(key: string, fn: PolicyFn<T>, options: WaitOptions = {}): Promise<T> {
    if (typeof fn !== 'function') return Promise.reject(callError(`${this.name}.execute`, fn, undefined));
    const context = contextFor(options?.signal); // a bad signal makes wait() reject before fn runs
    return this.wait(key, options).then(() => fn(context));
  }

  /**
   * This limiter as a policy for `pipeline(...)`: each call waits for its key, then runs.
   * Throws `ConfigurationError` naming `key`, `cost` or `maxWaitMs` when one is invalid.
   */
  policy(options: RateLimitPolicyOptions): Policy<RateLimitEvent> {
    const v = new OptionsValidator('rateLimiter.policy');
    const o = v.known(options, RATE_LIMIT_POLICY_OPTION_NAMES);
    const key = o.key;
    const cost = o.cost ?? 1;
    const maxWaitMs = o.maxWaitMs ?? this.#maxWaitMs;
    checkWait(v, cost, this.#maxCost, maxWaitMs)
      .check(
        (typeof key === 'string' && key.length > 0) || typeof key === 'function',
        'key',
        key,
        'a non-empty string or (context) => string',
      )
      .predicate('key', typeof key === 'function' ? key : undefined)
      .done();
    const keyOf = typeof key === 'function' ? key : () => key as string;
    const run = <T>(fn: PolicyFn<T>, context: ExecuteContext): Promise<T> => {
      let k: string;
      try {
        k = keyOf(context);
      } catch (error) {
        return Promise.reject(error); // rejects, as every policy does, never throws
      }
      // Over the in-process store a key nobody waits on is decided at once, so a timeout's
      // lazy signal is made only for a call that must wait (docs/timeout.md, principle 9).
      const sync = this.#sync;
      const single = this.#single;
      if (sync !== undefined && single !== undefined && typeof k === 'string') {
        if (!this.#queues.has(k) && !isContextAborted(context)) {
          const d = sync.applySync(fitKey(k), single.consume, cost, this.#clock.now(), this.#space);
          if (d.allowed) {
            this.#count(k, d);
            return invoke(fn, context);
          }
        }
      }
      return this.wait(k, { cost, maxWaitMs, signal: context.signal }).then(() => fn(context));
    };
    const execute = <T>(fn: PolicyFn<T>, signal?: AbortSignal): Promise<T> =>
      typeof fn !== 'function' || (signal !== undefined && !isAbortSignal(signal))
        ? Promise.reject(callError(`${this.name}.execute`, fn, signal))
        : run(fn, contextFor(signal));
    return {
      name: this.name,
      execute,
      run,
      wrap: <A extends unknown[], R>(fn: (...args: A) => R | PromiseLike<R>) => {
        if (typeof fn !== 'function') throw callError(`${this.name}.wrap`, fn, 0);
        return (...args: A) => execute(() => fn(...args)) as Promise<Awaited<R>>;
      },
      onEvent: this.#emitter.subscribe,
    };
  }

  // Concatenating a prefix builds a string V8 must flatten to hash on every lookup; a
  // client-side limiter mostly uses one key, so the last one is kept flat.
  #storeKey(key: string): string {
    if (this.#prefix === '') return key;
    if (key === this.#lastKey) return this.#lastStoreKey;
    const storeKey = this.#prefix + key + KEY_CLOSE;
    this.#lastKey = key;
    this.#lastStoreKey = storeKey;
    return storeKey;
  }

  #count(key: string, d: RateLimitDecision): RateLimitDecision {
    this.#requests++;
    if (d.allowed) this.#allowed++;
    else {
      this.#blocked++;
      if (this.#emitter.hasListeners)
        this.#emitter.emit({ type: 'rate_limited', policy: this.name, key, retryAfterMs: d.retryAfterMs });
    }
    return d;
  }

  /**
   * Applies consume or peek to the user's `given` key, fitted (prefixed here, or through the memory
   * store's key space); `count` counts the decision in the stats in the same step (a consume: one
   * promise reaction per decision, not two). Events name `given`, as `consumeSync` and `wait` do.
   */
  #apply(given: string, cost: number, peek: boolean, count = false): Promise<RateLimitDecision> {
    const key = fitKey(given);
    const now = this.#clock.now();
    const single = this.#single;
    const sync = this.#sync;
    const counted = (d: RateLimitDecision): RateLimitDecision => (count ? this.#count(given, d) : d);
    try {
      if (sync !== undefined) {
        if (single !== undefined) {
          return Promise.resolve(
            counted(sync.applySync(key, peek ? single.peek : single.consume, cost, now, this.#space)),
          );
        }
        return Promise.resolve(
          counted(combine(sync.applyAllSync(this.#operations(key, cost, peek), now) as RateLimitDecision[])),
        );
      }
      const denials = this.#denials;
      if (denials === undefined || peek) {
        return this.#decide(this.#store, key, cost, peek, now).then(counted, (error: unknown) =>
          this.#storeFailed(error, key, cost, peek, now, given).then(counted),
        );
      }
      const cached = denials.lookup(key, cost, now);
      if (cached !== undefined) return Promise.resolve(counted(cached));
      return this.#decide(this.#store, key, cost, false, now).then(
        (d) => {
          denials.remember(key, cost, d, now);
          return counted(d);
        },
        (error: unknown) => this.#storeFailed(error, key, cost, false, now, given).then(counted),
      );
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** The decision of `store`, through the Store interface; a store that throws fails as one that rejects (`storeStep`). */
  #decide(store: Store, key: string, cost: number, peek: boolean, now: number): Promise<RateLimitDecision> {
    const single = this.#single;
    if (single !== undefined) {
      return storeStep(() => store.apply(this.#storeKey(key), peek ? single.peek : single.consume, cost, now));
    }
    return storeStep(() => store.applyAll(this.#operations(key, cost, peek), now)).then((outputs) =>
      combine(outputs as RateLimitDecision[]),
    );
  }

  /** One operation per limit, each on its own key after the caller key's hash tag (full keys, also in the memory store). */
  #operations(key: string, cost: number, peek: boolean): StoreOperation[] {
    const base = this.#storeKey(key);
    return this.#algorithms.map((a, i) => ({
      key: base + this.#suffixes[i],
      transition: peek ? a.peek : a.consume,
      input: cost,
    }));
  }

  /** A decision the store failed to make: counted, reported (at most once a minute) and made by `onStoreError`. */
  #storeFailed(
    error: unknown,
    key: string,
    cost: number,
    peek: boolean,
    now: number,
    given: string,
  ): Promise<RateLimitDecision> {
    if (!isStoreUnavailableError(error)) return Promise.reject(error);
    this.#storeErrors++;
    const unreported = this.#reports.pass(now);
    if (unreported !== undefined && this.#emitter.hasListeners) {
      this.#emitter.emit({ type: 'store_error', policy: this.name, key: given, error, unreported });
    }
    const on = this.#onStoreError;
    if (on === 'open') return Promise.resolve(this.#passed);
    if (on === 'closed') return Promise.reject(error);
    return this.#decide(on, key, cost, peek, now).then((d) => ({ ...d, degraded: true }));
  }
}

/**
 * One decision for several limits: when all admit, the one with the least remaining;
 * otherwise the refusing one that asks for the longest wait. `limits` holds them all.
 */
export function combine(decisions: readonly RateLimitDecision[]): RateLimitDecision {
  let pick: RateLimitDecision | undefined;
  for (const d of decisions) {
    if (pick === undefined) pick = d;
    else if (pick.allowed && !d.allowed) pick = d;
    else if (pick.allowed === d.allowed) {
      if (d.allowed ? d.remaining < pick.remaining : d.retryAfterMs > pick.retryAfterMs) pick = d;
    }
  }
  if (pick === undefined) throw new TypeError('combine: no decisions');
  // A denial reports the refusing limit whole, so `limit`, `remaining` and `resetMs` describe
  // one policy; `limits` keeps every limit's own decision. (A literal, not a spread: this
  // runs on every decision of a multi-limit limiter, and a spread costs several times more.)
  const { allowed, limit, remaining, resetMs, retryAfterMs } = pick;
  return { allowed, limit, remaining, resetMs, retryAfterMs, limits: decisions };
}

/**
 * A keyed rate limiter.
 *
 * @example
 * const limiter = rateLimiter({ algorithm: tokenBucket({ capacity: 60, refillPerSecond: 1 }) });
 * const d = await limiter.consume('user-42');
 * if (!d.allowed) reply429(d.retryAfterMs);
 */
export function rateLimiter(options: RateLimiterOptions): RateLimiter {
  return new RateLimiter(options);
}
