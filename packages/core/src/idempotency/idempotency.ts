import { type Clock, type Random, systemClock, systemRandom } from '../clock/clock.js';
import { IdempotencyConflictError } from '../errors/errors.js';
import { OptionsValidator } from '../errors/validate.js';
import { Emitter } from '../events/emitter.js';
import { memoryStore } from '../store/memory.js';
import { storeNamespace } from '../store/namespace.js';
import type { JsonValue, Store } from '../store/store.js';
import {
  type IdempotencyExecuteOptions,
  type IdempotencyOptions,
  type ResolvedIdempotencyOptions,
  resolveIdempotencyOptions,
} from './options.js';
import {
  beginTransition,
  completeTransition,
  type RecordedError,
  type RecordedOutcome,
  releaseTransition,
} from './record.js';

/** How a call's outcome was obtained: by running `fn`, from a record, or by joining a call in flight. */
export type IdempotencySource = 'executed' | 'replayed' | 'shared';

export interface IdempotentResult<T> {
  readonly value: T;
  readonly source: IdempotencySource;
}

export type IdempotencyEvent =
  | { type: 'executed' | 'replayed' | 'shared'; policy: string; key: string }
  | { type: 'conflict'; policy: string; key: string; code: 'in_flight' | 'fingerprint_mismatch' }
  | { type: 'record_failed'; policy: string; key: string; error: unknown };

/** An error replayed from a record: the original's name, message, code and status. */
export class ReplayedError extends Error {
  readonly code?: string | number;
  readonly status?: number;
  /** Always true: the call did not run; this is the first call's recorded error. */
  readonly replayed = true;
  readonly #name: string;
  constructor(recorded: RecordedError) {
    super(recorded.message);
    this.#name = recorded.name;
    if (recorded.code !== undefined) this.code = recorded.code;
    if (recorded.status !== undefined) this.status = recorded.status;
  }
  override get name(): string {
    return this.#name;
  }
}

function recordError(error: unknown): RecordedError {
  const e = (typeof error === 'object' && error !== null ? error : {}) as Record<string, unknown>;
  const code = e.code;
  const status = e.status ?? e.statusCode;
  return {
    name: typeof e.name === 'string' ? e.name : 'Error',
    message: typeof e.message === 'string' ? e.message : String(error),
    ...(typeof code === 'string' || typeof code === 'number' ? { code } : {}),
    ...(typeof status === 'number' ? { status } : {}),
  };
}

interface Local {
  readonly fp: string | null;
  readonly promise: Promise<IdempotentResult<unknown>>;
}

/**
 * Runs each keyed call at most once within `ttlMs` and replays its outcome. See
 * {@link idempotency}. Memory: records are bounded by the store (`maxRecords` for the
 * default one); calls in flight in this process are tracked until they settle.
 */
export class Idempotency {
  readonly name = 'idempotency';
  readonly store: Store;
  readonly #opts: ResolvedIdempotencyOptions;
  readonly #clock: Clock;
  readonly #begin: ReturnType<typeof beginTransition>;
  readonly #complete: ReturnType<typeof completeTransition>;
  readonly #inFlight = new Map<string, Local>();
  readonly #events = new Emitter<IdempotencyEvent>();
  readonly #instance: string;
  readonly #namespace: string;
  #sequence = 0;

  readonly onEvent = this.#events.subscribe;

  constructor(options: IdempotencyOptions = {}) {
    this.#opts = resolveIdempotencyOptions(options);
    this.#clock = options.clock ?? systemClock;
    this.store = options.store ?? memoryStore({ maxKeys: this.#opts.maxRecords });
    this.#begin = beginTransition(this.#opts.lockTimeoutMs);
    this.#complete = completeTransition(this.#opts.ttlMs);
    this.#namespace = storeNamespace('idem', this.#opts.keyPrefix);
    const random: Random = options.random ?? systemRandom;
    this.#instance = Math.floor(random() * 2 ** 48).toString(36);
  }

  /** Keys with a call in flight in this process (each shared by its concurrent callers). */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  /**
   * Runs `fn` the first time `key` is seen (within `scope`), records its outcome, and
   * replays it to later calls for `ttlMs` without running `fn`. Values must be JSON.
   */
  async execute<T>(key: string, fn: () => T | PromiseLike<T>, options?: IdempotencyExecuteOptions): Promise<T> {
    return (await this.executeDetailed(key, fn, options)).value;
  }

  /** {@link execute}, also saying whether `fn` ran, was replayed, or was shared (for `Idempotent-Replayed`). */
  executeDetailed<T>(
    key: string,
    fn: () => T | PromiseLike<T>,
    options: IdempotencyExecuteOptions = {},
  ): Promise<IdempotentResult<T>> {
    const { scope, fingerprint, onInFlight } = options;
    if (
      typeof key !== 'string' ||
      key.length === 0 ||
      typeof fn !== 'function' ||
      (scope !== undefined && (typeof scope !== 'string' || scope.length === 0)) ||
      (fingerprint !== undefined && typeof fingerprint !== 'string') ||
      (onInFlight !== undefined && onInFlight !== 'share' && onInFlight !== 'reject')
    ) {
      const v = new OptionsValidator('idempotency.execute');
      v.check(typeof key === 'string' && key.length > 0, 'key', key, 'a non-empty string');
      v.function('fn', fn).required('fn', fn);
      v.string('scope', scope);
      v.check(fingerprint === undefined || typeof fingerprint === 'string', 'fingerprint', fingerprint, 'a string');
      v.oneOf('onInFlight', onInFlight, ['share', 'reject']);
      try {
        v.done();
      } catch (error) {
        return Promise.reject(error);
      }
    }
    const namespace = scope === undefined ? this.#namespace : storeNamespace('idem', this.#opts.keyPrefix, scope);
    const storeKey = namespace + key;
    const fp = fingerprint ?? null;
    const local = this.#inFlight.get(storeKey);
    if (local) {
      if (local.fp !== null && fp !== null && local.fp !== fp) {
        return Promise.reject(this.#conflict(storeKey, 'fingerprint_mismatch'));
      }
      if (onInFlight === 'reject') return Promise.reject(this.#conflict(storeKey, 'in_flight'));
      this.#emit('shared', storeKey);
      return local.promise.then((r) => ({ value: r.value as T, source: 'shared' }));
    }
    const promise = this.#run(storeKey, fn, fp, options);
    const entry: Local = { fp, promise };
    this.#inFlight.set(storeKey, entry);
    const forget = () => {
      if (this.#inFlight.get(storeKey) === entry) this.#inFlight.delete(storeKey);
    };
    promise.then(forget, forget);
    return promise;
  }

  async #run<T>(
    key: string,
    fn: () => T | PromiseLike<T>,
    fp: string | null,
    options: IdempotencyExecuteOptions,
  ): Promise<IdempotentResult<T>> {
    const owner = `${this.#instance}:${(this.#sequence++).toString(36)}`;
    for (;;) {
      const begun = await this.store.apply(key, this.#begin, { fp, owner }, this.#clock.now());
      if (begun.kind === 'acquired') return this.#call(key, fn, fp, owner);
      if (begun.kind === 'mismatch') throw this.#conflict(key, 'fingerprint_mismatch');
      if (begun.kind === 'done') {
        this.#emit('replayed', key);
        if (begun.outcome.ok) return { value: begun.outcome.value as T, source: 'replayed' };
        throw new ReplayedError(begun.outcome.error);
      }
      // In flight in another process: wait for it, at most until its lock expires.
      if (options.onInFlight === 'reject') throw this.#conflict(key, 'in_flight');
      await this.#clock.sleep(Math.max(1, Math.min(this.#opts.pollIntervalMs, begun.waitMs)), options.signal);
    }
  }

  async #call<T>(key: string, fn: () => T | PromiseLike<T>, fp: string | null, owner: string) {
    let outcome: RecordedOutcome;
    let value: T;
    try {
      value = await fn();
      outcome = { ok: true, value: value as JsonValue };
    } catch (error) {
      const record = this.#opts.recordErrors(error);
      await this.#settle(key, () =>
        record
          ? this.store.apply(
              key,
              this.#complete,
              { fp, owner, outcome: { ok: false, error: recordError(error) } },
              this.#clock.now(),
            )
          : this.store.apply(key, releaseTransition, { owner }, this.#clock.now()),
      );
      throw error;
    }
    await this.#settle(key, () => this.store.apply(key, this.#complete, { fp, owner, outcome }, this.#clock.now()));
    this.#emit('executed', key);
    return { value, source: 'executed' as const };
  }

  /**
   * A failure to record never replaces the call's own outcome (the work is done); it is
   * reported as an event, and the key frees itself after `lockTimeoutMs`.
   */
  async #settle(key: string, write: () => Promise<unknown>): Promise<void> {
    try {
      await write();
    } catch (error) {
      if (this.#events.hasListeners) this.#events.emit({ type: 'record_failed', policy: this.name, key, error });
    }
  }

  #conflict(key: string, code: 'in_flight' | 'fingerprint_mismatch'): IdempotencyConflictError {
    if (this.#events.hasListeners) this.#events.emit({ type: 'conflict', policy: this.name, key, code });
    return new IdempotencyConflictError(code);
  }

  #emit(type: 'executed' | 'replayed' | 'shared', key: string): void {
    if (this.#events.hasListeners) this.#events.emit({ type, policy: this.name, key });
  }
}

/**
 * Idempotency keys: the first call with a key runs `fn` and records its outcome; repeats
 * within `ttlMs` get that outcome without running `fn`.
 *
 * @example
 * const idem = idempotency({ ttlMs: 24 * 3600_000 });
 * const order = await idem.execute(req.headers['idempotency-key'], () => createOrder(body), {
 *   fingerprint: sha256(body),
 *   scope: user.id,
 * });
 */
export function idempotency(options: IdempotencyOptions = {}): Idempotency {
  return new Idempotency(options);
}
