import { type Clock, type Random, systemClock, systemRandom } from '../clock/clock.js';
import { unknownKey } from '../errors/bag.js';
import {
  IdempotencyConflictError,
  IdempotencyRecordError,
  isStoreUnavailableError,
  StoreUnavailableError,
} from '../errors/errors.js';
import { OptionsValidator } from '../errors/validate.js';
import { Emitter } from '../events/emitter.js';
import { isAbortSignal } from '../policy/policy.js';
import { type BoundedJsonForm, boundedJsonForm, utf8BytesOver } from '../store/json.js';
import { memoryStore } from '../store/memory.js';
import { storeKey, storeNamespace } from '../store/namespace.js';
import type { JsonValue, Store } from '../store/store.js';
import { requireSupport } from '../store/supports.js';
import {
  BYTE_BOUND,
  EXECUTE_OPTION_NAMES,
  type IdempotencyExecuteOptions,
  type IdempotencyOptions,
  isByteBound,
  type ResolvedIdempotencyOptions,
  resolveIdempotencyOptions,
} from './options.js';
import { beginTransition, completeTransition, type RecordedOutcome, releaseTransition } from './record.js';
import { isReadable, ReplayedError, recordedError } from './replayed-error.js';
import { type LocalCall, settled, waitFor } from './shared.js';
import { isUnrecorded, type NotRecorded, type Unrecorded, unrecordedValue } from './unrecorded.js';

const LOCK_LOST: NotRecorded = { reason: 'lock_lost' };

/** How a call's outcome was obtained: by running `fn`, from a record, or by joining a call in flight. */
export type IdempotencySource = 'executed' | 'replayed' | 'shared';

export interface IdempotentResult<T> {
  readonly value: T;
  readonly source: IdempotencySource;
  /** Set when `fn` ran but its outcome was not recorded (`unrecorded()`, `maxRecordBytes`): the key was freed. */
  readonly unrecorded?: NotRecorded;
}

/** What `execute` runs: it returns (or resolves with) the value, or `unrecorded(value, reason)` not to record it. */
type Fn<T> = () => T | Unrecorded<T> | PromiseLike<T | Unrecorded<T>>;

export type IdempotencyEvent =
  | { type: 'executed' | 'replayed' | 'shared'; policy: string; key: string }
  | { type: 'conflict'; policy: string; key: string; code: 'in_flight' | 'fingerprint_mismatch' }
  | { type: 'record_failed'; policy: string; key: string; error: unknown }
  | { type: 'not_recorded'; policy: string; key: string; reason: string; bytes?: number }
  | { type: 'callback_failed'; policy: string; key: string; callback: 'recordErrors'; error: unknown };

/**
 * A UTF-16 surrogate without its pair: such a string has no encoding (`encodeURIComponent`
 * throws on it). With the `u` flag a paired surrogate reads as one code point, so only a lone
 * one matches. A range, not `\p{Surrogate}`, which the build targeting Node 20 turns into a
 * `new RegExp(...)` call that runs at import in every bundle.
 */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/**
 * Runs each keyed call at most once within `ttlMs` and replays its outcome. See
 * {@link idempotency}. Memory: records are bounded by the store (`maxRecords` for the
 * default one) and `maxRecordBytes`; calls in flight in this process are tracked until they settle.
 */
/** Told apart per process (a seed two processes share; drawn at the first instance) and per instance in one. */
let processId: string | undefined;
let instances = 0;

export class Idempotency {
  readonly name = 'idempotency';
  readonly store: Store;
  readonly #opts: ResolvedIdempotencyOptions;
  readonly #clock: Clock;
  readonly #begin: ReturnType<typeof beginTransition>;
  readonly #complete: ReturnType<typeof completeTransition>;
  readonly #inFlight = new Map<string, LocalCall>();
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
    requireSupport('idempotency', this.store, [this.#begin, this.#complete, releaseTransition]);
    this.#namespace = storeNamespace('idem', this.#opts.keyPrefix);
    const random: Random = options.random ?? systemRandom;
    // Unique per instance whatever `random` is (a seeded one, the same in two instances): a
    // begin by its own owner is taken as the same call's.
    this.#instance = `${Math.floor(random() * 2 ** 48).toString(36)}.${(instances++).toString(36)}${(processId ??= systemRandom().toString(36).slice(2, 10))}`;
  }

  /** Keys with a call in flight in this process. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  /** Runs `fn` the first time `key` is seen (in `scope`) and replays its outcome for `ttlMs`. Values must be JSON. */
  async execute<T>(key: string, fn: Fn<T>, options?: IdempotencyExecuteOptions): Promise<T> {
    return (await this.executeDetailed(key, fn, options)).value;
  }

  /** {@link execute}, also saying whether `fn` ran, was replayed or shared, and why an outcome was not recorded. */
  executeDetailed<T>(key: string, fn: Fn<T>, options: IdempotencyExecuteOptions = {}): Promise<IdempotentResult<T>> {
    const { scope, fingerprint, onInFlight, signal, maxRecordBytes } = options ?? {};
    if (
      typeof key !== 'string' ||
      !(key.length > 0 && key.length <= 1_024) ||
      typeof fn !== 'function' ||
      typeof options !== 'object' ||
      options === null ||
      unknownKey(options, EXECUTE_OPTION_NAMES) !== undefined ||
      (scope !== undefined &&
        (typeof scope !== 'string' || !(scope.length > 0 && scope.length <= 1_024) || LONE_SURROGATE.test(scope))) ||
      (fingerprint !== undefined && !(typeof fingerprint === 'string' && fingerprint.length <= 1_024)) ||
      (onInFlight !== undefined && onInFlight !== 'share' && onInFlight !== 'reject') ||
      (signal !== undefined && !isAbortSignal(signal)) ||
      (maxRecordBytes !== undefined && !isByteBound(maxRecordBytes))
    ) {
      const v = new OptionsValidator('idempotency.execute');
      // Held whole as a store key: each one an attacker sends long costs its length in memory.
      v.check(
        typeof key === 'string' && key.length > 0 && key.length <= 1_024,
        'key',
        key,
        'a string of 1 to 1 024 characters',
      );
      v.function('fn', fn).required('fn', fn);
      v.check(typeof options === 'object' && options !== null, 'options', options, 'an object or undefined');
      if (typeof options === 'object' && options !== null) v.known(options, EXECUTE_OPTION_NAMES);
      v.string('scope', scope).check(
        !(typeof scope === 'string' && scope.length > 1_024),
        'scope',
        scope,
        'at most 1 024 characters',
      );
      v.check(
        typeof scope !== 'string' || !LONE_SURROGATE.test(scope),
        'scope',
        scope,
        'well-formed text (no lone surrogate)',
      );
      v.check(
        fingerprint === undefined || (typeof fingerprint === 'string' && fingerprint.length <= 1_024),
        'fingerprint',
        fingerprint,
        'a string of at most 1024 characters (a hash of the request)',
      );
      v.oneOf('onInFlight', onInFlight, ['share', 'reject']);
      v.check(signal === undefined || isAbortSignal(signal), 'signal', signal, 'an AbortSignal');
      v.check(
        maxRecordBytes === undefined || isByteBound(maxRecordBytes),
        'maxRecordBytes',
        maxRecordBytes,
        BYTE_BOUND,
      );
      try {
        v.done();
      } catch (error) {
        return Promise.reject(error);
      }
    }
    const namespace = scope === undefined ? this.#namespace : storeNamespace('idem', this.#opts.keyPrefix, scope);
    if (options.signal?.aborted) return Promise.reject(options.signal.reason);
    return this.#join(storeKey(namespace, key), fn, fingerprint ?? null, options);
  }

  /** Shares the call in flight in this process with `storeKey`, or starts one. */
  #join<T>(
    storeKey: string,
    fn: Fn<T>,
    fp: string | null,
    options: IdempotencyExecuteOptions,
  ): Promise<IdempotentResult<T>> {
    const { onInFlight } = options;
    const now = this.#clock.now();
    let local = this.#inFlight.get(storeKey);
    // A call whose lock ran out hung: its store claim is free, so this process lets it go too
    // (as a caller in another process would), whether this caller shares or rejects.
    if (local && now >= local.until) {
      this.#inFlight.delete(storeKey);
      local = undefined;
    }
    if (local) {
      if (local.fp !== null && fp !== null && local.fp !== fp) {
        return Promise.reject(this.#conflict(storeKey, 'fingerprint_mismatch'));
      }
      // The store says whether that call runs `fn` (in_flight) or found the key done (a replay
      // for this caller too): it may still be asking.
      if (onInFlight === 'reject') return this.#run(storeKey, fn, fp, options, now);
      this.#emit('shared', storeKey);
      return this.#share(storeKey, local, fn, fp, options);
    }
    const promise = this.#run(storeKey, fn, fp, options, now);
    const entry: LocalCall = { fp, promise, until: now + this.#opts.lockTimeoutMs, signal: options.signal };
    this.#inFlight.set(storeKey, entry);
    const forget = () => {
      settled(entry, this.#clock);
      if (this.#inFlight.get(storeKey) === entry) this.#inFlight.delete(storeKey);
    };
    promise.then(forget, forget);
    return promise;
  }

  /**
   * Joins a call in flight in this process. Like a caller in another process, a sharer
   * stops waiting when its own signal aborts, and once the call's lock ran out (the call
   * hung) it takes the key over: the first to wake runs `fn`, the others share that run.
   */
  async #share<T>(
    key: string,
    local: LocalCall,
    fn: Fn<T>,
    fp: string | null,
    options: IdempotencyExecuteOptions,
  ): Promise<IdempotentResult<T>> {
    let result: IdempotentResult<unknown> | undefined;
    // A record the first caller, with no fingerprint, read may have another than this caller's:
    // this caller then reads it itself.
    const unchecked = fp !== null && local.fp === null;
    try {
      result = await waitFor(local, this.#clock, options.signal);
      if (unchecked && result?.source !== 'executed') result = undefined;
    } catch (error) {
      // The first caller stopped waiting on another process (its signal aborted, or its
      // onInFlight is 'reject'): its choice, not this caller's, who waits on.
      const gaveUp = local.signal?.aborted && error === local.signal.reason;
      if (
        !gaveUp &&
        !(error instanceof IdempotencyConflictError && error.code === 'in_flight') &&
        !(unchecked && error instanceof ReplayedError)
      )
        throw error;
    }
    if (result !== undefined) {
      const { value, unrecorded } = result as IdempotentResult<T>;
      return unrecorded === undefined ? { value, source: 'shared' } : { value, source: 'shared', unrecorded };
    }
    if (this.#inFlight.get(key) === local) this.#inFlight.delete(key);
    return this.#join(key, fn, fp, options);
  }

  async #run<T>(
    key: string,
    fn: Fn<T>,
    fp: string | null,
    options: IdempotencyExecuteOptions,
    now: number,
  ): Promise<IdempotentResult<T>> {
    const owner = `${this.#instance}:${(this.#sequence++).toString(36)}`;
    for (let at = now; ; at = this.#clock.now()) {
      const begun = await this.store.apply(key, this.#begin, { fp, owner }, at);
      if (begun.kind === 'acquired') {
        // Its caller may have left while the store answered: it must run nothing.
        if (options.signal?.aborted) {
          await this.#release(key, owner);
          throw options.signal.reason;
        }
        return this.#call(key, fn, fp, owner, options.maxRecordBytes ?? this.#opts.maxRecordBytes);
      }
      if (begun.kind === 'mismatch') throw this.#conflict(key, 'fingerprint_mismatch');
      if (begun.kind === 'done') {
        const { outcome } = begun;
        // Something else's value under the key, or a damaged one: the store's failure, not a replay.
        if (!isReadable(outcome)) throw new StoreUnavailableError('idempotency: a record it cannot read');
        this.#emit('replayed', key);
        if (outcome.ok) return { value: outcome.value as T, source: 'replayed' };
        throw new ReplayedError(outcome.error);
      }
      // In flight in another process: wait for it, at most until its lock expires.
      if (options.onInFlight === 'reject') throw this.#conflict(key, 'in_flight');
      await this.#clock.sleep(Math.max(1, Math.min(this.#opts.pollIntervalMs, begun.waitMs)), options.signal);
    }
  }

  async #call<T>(
    key: string,
    fn: Fn<T>,
    fp: string | null,
    owner: string,
    maxBytes: number,
  ): Promise<IdempotentResult<T>> {
    let returned: T | Unrecorded<T>;
    try {
      returned = await fn();
    } catch (error) {
      if (this.#records(key, error)) await this.#recordError(key, fp, owner, error, maxBytes);
      else await this.#release(key, owner);
      throw error;
    }
    if (isUnrecorded(returned)) {
      return this.#unrecorded(key, owner, unrecordedValue(returned) as T, { reason: returned.reason });
    }
    const value = returned as T;
    let form: BoundedJsonForm;
    try {
      form = boundedJsonForm(value, 'idempotency: the call ran, but its value', maxBytes);
    } catch (notJson) {
      // Recorded as the error it is, so calls with this key replay it instead of running again.
      await this.#recordError(key, fp, owner, notJson, maxBytes);
      throw notJson;
    }
    if (!form.ok) return this.#unrecorded(key, owner, value, { reason: 'too_large', bytes: form.bytes });
    if (!(await this.#record(key, fp, owner, { ok: true, value: form.json as JsonValue }, { ok: true, value }))) {
      return { value, source: 'executed', unrecorded: LOCK_LOST };
    }
    this.#emit('executed', key);
    return { value, source: 'executed' };
  }

  /** Records a call's error (what survives JSON of it), or frees the key when that is over `maxBytes`. */
  async #recordError(key: string, fp: string | null, owner: string, error: unknown, maxBytes: number): Promise<void> {
    const recorded = recordedError(error); // plain JSON already: measured, not copied
    const bytes = utf8BytesOver(JSON.stringify(recorded), maxBytes);
    if (bytes === undefined) await this.#record(key, fp, owner, { ok: false, error: recorded }, { ok: false, error });
    else await this.#notRecorded(key, owner, { reason: 'too_large', bytes });
  }

  /** A call whose outcome is not recorded: its key is freed and its caller gets `value`, nothing thrown. */
  async #unrecorded<T>(key: string, owner: string, value: T, why: NotRecorded): Promise<IdempotentResult<T>> {
    await this.#notRecorded(key, owner, why);
    return { value, source: 'executed', unrecorded: why };
  }

  /** Frees the key of an outcome that is not recorded, and says why (`not_recorded`). */
  async #notRecorded(key: string, owner: string, why: NotRecorded): Promise<void> {
    await this.#release(key, owner);
    if (this.#events.hasListeners) this.#events.emit({ type: 'not_recorded', policy: this.name, key, ...why });
  }

  /**
   * Frees the key this owner holds. When the store fails on every attempt, that is reported
   * (`record_failed`) and the key frees itself after `lockTimeoutMs`.
   */
  async #release(key: string, owner: string): Promise<void> {
    const failed = await this.#write(() => this.store.apply(key, releaseTransition, { owner }, this.#clock.now()));
    if (failed) this.#emitRecordFailed(key, failed[0]);
  }

  // Records a finished call's outcome (`recorded`, its JSON form): false, with a not_recorded
  // event (lock_lost), when another call took the key over after lockTimeoutMs (its record
  // stands). When the store fails on every attempt the call rejects with
  // `IdempotencyRecordError` carrying `outcome`; the key is left in flight, since the call ran.
  async #record(
    key: string,
    fp: string | null,
    owner: string,
    recorded: RecordedOutcome,
    outcome: IdempotencyRecordError['outcome'],
  ): Promise<boolean> {
    const input = { fp, owner, outcome: recorded };
    let written = true;
    const failed = await this.#write(async () => {
      written = await this.store.apply(key, this.#complete, input, this.#clock.now());
    });
    if (failed === undefined) {
      if (!written && this.#events.hasListeners)
        this.#events.emit({ type: 'not_recorded', policy: this.name, key, ...LOCK_LOST });
      return written;
    }
    this.#emitRecordFailed(key, failed[0]);
    throw new IdempotencyRecordError(outcome, failed[1], failed[0]);
  }

  /**
   * One write after the call, tried `recordAttempts` times `pollIntervalMs` apart while the
   * store fails (`StoreUnavailableError`; any other error is not tried again). Resolves
   * with the last error and the attempts made, or `undefined` once a write landed.
   */
  async #write(write: () => Promise<unknown>): Promise<[unknown, number] | undefined> {
    const { recordAttempts, pollIntervalMs } = this.#opts;
    for (let attempt = 1; ; attempt++) {
      try {
        await write();
        return undefined;
      } catch (error) {
        if (attempt >= recordAttempts || !isStoreUnavailableError(error)) return [error, attempt];
      }
      await this.#clock.sleep(pollIntervalMs);
    }
  }

  #emitRecordFailed(key: string, error: unknown): void {
    if (this.#events.hasListeners) this.#events.emit({ type: 'record_failed', policy: this.name, key, error });
  }

  /**
   * Whether `error` is recorded. A `recordErrors` predicate that throws must not replace
   * the call's own error nor leave the key in flight: the error is not recorded (the key
   * is freed) and the predicate's failure is reported as an event.
   */
  #records(key: string, error: unknown): boolean {
    try {
      const answer: unknown = this.#opts.recordErrors(error);
      // An async predicate's promise is truthy: it would record every error, transient ones too.
      if (typeof (answer as { then?: unknown } | null)?.then === 'function') {
        throw new TypeError('recordErrors must return a boolean, not a promise');
      }
      return Boolean(answer);
    } catch (failure) {
      if (this.#events.hasListeners) {
        this.#events.emit({
          type: 'callback_failed',
          policy: this.name,
          key,
          callback: 'recordErrors',
          error: failure,
        });
      }
      return false;
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
