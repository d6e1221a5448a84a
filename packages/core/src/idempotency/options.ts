import type { Clock, Random } from '../clock/clock.js';
import { type OptionNames, OptionsValidator } from '../errors/validate.js';
import type { Store } from '../store/store.js';
import { isStore } from '../store/store.js';

export interface IdempotencyOptions {
  /** Where records live; share one (Redis) across instances. @default memoryStore({ maxKeys: maxRecords }) */
  store?: Store;
  /** How long a finished call's outcome is replayed. @default 86_400_000 (24 h) */
  ttlMs?: number;
  // At least 2: the memory store pins at most half its keys while their calls run, so a
  // store of one record could never hold a call in flight.
  /** Most records the default memory store keeps (LRU), at least 2; refused beside a `store`. @default 10_000 */
  maxRecords?: number;
  /**
   * How long an in-flight record holds its key (a crashed owner's too); a call running
   * longer may be run again. @default 60_000 (1 minute)
   */
  lockTimeoutMs?: number;
  /**
   * Whether a failed call's error is recorded and replayed (`true`, or a predicate per error);
   * others free the key. A predicate that throws counts as `false` (`callback_failed`). @default false
   */
  recordErrors?: boolean | ((error: unknown) => boolean);
  /**
   * Most UTF-8 bytes of JSON a value (or recorded error) may take to be recorded; a larger one
   * is returned but not recorded (`unrecorded`). `Infinity`: no bound. @default 1_048_576 (1 MiB)
   */
  maxRecordBytes?: number;
  /** How often a call waits on a key in flight in another process re-reads it. @default 50 */
  pollIntervalMs?: number;
  /** Attempts to record an outcome (or free a key) while the store fails, `pollIntervalMs` apart. @default 3 */
  recordAttempts?: number;
  /** The records' namespace: `{idem:<keyPrefix>|<key>}`, or `{idem:<keyPrefix>:<scope>|<key>}`. @default 'default' */
  keyPrefix?: string;
  clock?: Clock;
  random?: Random;
}

/** Every option `idempotency` takes; any other name is rejected. */
export const IDEMPOTENCY_OPTION_NAMES = {
  store: true,
  ttlMs: true,
  maxRecords: true,
  lockTimeoutMs: true,
  recordErrors: true,
  maxRecordBytes: true,
  pollIntervalMs: true,
  recordAttempts: true,
  keyPrefix: true,
  clock: true,
  random: true,
} as const satisfies OptionNames<IdempotencyOptions>;

export const IDEMPOTENCY_DEFAULTS = {
  ttlMs: 86_400_000,
  maxRecords: 10_000,
  lockTimeoutMs: 60_000,
  recordErrors: false,
  maxRecordBytes: 1_048_576,
  pollIntervalMs: 50,
  keyPrefix: 'default',
  recordAttempts: 3,
} as const;

export interface IdempotencyExecuteOptions {
  /**
   * A digest of the request, at most 1 024 characters; the same key with another is rejected
   * (`fingerprint_mismatch`) when both calls give one.
   */
  fingerprint?: string;
  /** Whose key it is (user, tenant), non-empty: keys of different scopes never share a record. */
  scope?: string;
  /**
   * A call with a key already in flight: `share` waits for the first call's outcome,
   * `reject` fails with `IdempotencyConflictError('in_flight')` (HTTP 409) once the store says it runs.
   * @default 'share'
   */
  onInFlight?: 'share' | 'reject';
  /** Stops waiting on a key in flight, rejecting with its reason; an aborted one runs nothing. */
  signal?: AbortSignal;
  /** This call's `maxRecordBytes`, in place of the instance's. */
  maxRecordBytes?: number;
}

export interface ResolvedIdempotencyOptions {
  ttlMs: number;
  maxRecords: number;
  lockTimeoutMs: number;
  recordErrors: (error: unknown) => boolean;
  maxRecordBytes: number;
  pollIntervalMs: number;
  recordAttempts: number;
  keyPrefix: string;
}

export const EXECUTE_OPTION_NAMES = {
  fingerprint: true,
  scope: true,
  onInFlight: true,
  signal: true,
  maxRecordBytes: true,
} as const satisfies OptionNames<IdempotencyExecuteOptions>;

/** A `maxRecordBytes`: a whole number of bytes, or `Infinity` for no bound. */
export const isByteBound = (value: unknown): value is number =>
  value === Number.POSITIVE_INFINITY || (Number.isSafeInteger(value) && (value as number) >= 0);

/** What a `maxRecordBytes` may be, as a `ConfigurationError` says it. */
export const BYTE_BOUND = 'an integer >= 0, or Infinity (no bound)';

export function resolveIdempotencyOptions(options: IdempotencyOptions): ResolvedIdempotencyOptions {
  const v = new OptionsValidator('idempotency');
  const o = v.known(options, IDEMPOTENCY_OPTION_NAMES);
  const store = o.store;
  v.check(store === undefined || isStore(store), 'store', store, 'a Store');
  v.number('ttlMs', o.ttlMs, { gt: 0 });
  v.integer('maxRecords', o.maxRecords, { min: 2, max: 2 ** 30 });
  // It sizes the default store only: beside your own store, a bound that would not hold.
  v.check(
    o.maxRecords === undefined || store === undefined,
    'maxRecords',
    o.maxRecords,
    'no value when store is given (bound that store: memoryStore({ maxKeys }), Redis maxmemory)',
  );
  v.number('lockTimeoutMs', o.lockTimeoutMs, { gt: 0 });
  v.number('pollIntervalMs', o.pollIntervalMs, { gt: 0 });
  v.integer('recordAttempts', o.recordAttempts, { min: 1 });
  v.check(
    o.maxRecordBytes === undefined || isByteBound(o.maxRecordBytes),
    'maxRecordBytes',
    o.maxRecordBytes,
    BYTE_BOUND,
  );
  v.string('keyPrefix', o.keyPrefix);
  v.clock('clock', o.clock);
  v.predicate('random', o.random);
  const record = o.recordErrors;
  v.check(
    record === undefined ||
      typeof record === 'boolean' ||
      (typeof record === 'function' && record.constructor.name !== 'AsyncFunction'),
    'recordErrors',
    record,
    'true, false or a function, not async',
  );
  v.done();
  return {
    ttlMs: options.ttlMs ?? IDEMPOTENCY_DEFAULTS.ttlMs,
    maxRecords: options.maxRecords ?? IDEMPOTENCY_DEFAULTS.maxRecords,
    lockTimeoutMs: options.lockTimeoutMs ?? IDEMPOTENCY_DEFAULTS.lockTimeoutMs,
    recordErrors: typeof record === 'function' ? record : record === true ? () => true : () => false,
    maxRecordBytes: options.maxRecordBytes ?? IDEMPOTENCY_DEFAULTS.maxRecordBytes,
    pollIntervalMs: options.pollIntervalMs ?? IDEMPOTENCY_DEFAULTS.pollIntervalMs,
    recordAttempts: options.recordAttempts ?? IDEMPOTENCY_DEFAULTS.recordAttempts,
    keyPrefix: options.keyPrefix ?? IDEMPOTENCY_DEFAULTS.keyPrefix,
  };
}
