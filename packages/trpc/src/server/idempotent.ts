import {
  type EventLogger,
  HTTP_DEFAULTS,
  type Idempotency,
  type IdempotencyOptions,
  type IdempotentResult,
  idempotency,
  isResilienceError,
  isStoreUnavailableError,
  ReplayedError,
  shouldRecordResponse,
  type Unrecorded,
  unrecorded,
} from '@resilience/core';
import { emitHttpDecision, isUnrecorded, OptionsValidator, unrecordedValue } from '@resilience/core/internal';
import { getTRPCErrorFromUnknown, type TRPC_ERROR_CODE_KEY, TRPCError } from '@trpc/server';
import { built } from '../built.js';
import { errorAnswer } from './errors.js';
import { inputFingerprint, sha256 } from './fingerprint.js';

/** What a mutation resolver receives, as far as this wrapper reads it. */
export interface ResolverInput {
  readonly input: unknown;
  readonly path: string;
  readonly signal?: AbortSignal | undefined;
  /** The input as sent (after the transformer, before the validators), which is fingerprinted. */
  readonly getRawInput?: (() => Promise<unknown>) | undefined;
}

export interface IdempotentMutationOptions<O extends ResolverInput> {
  /**
   * Where outcomes are recorded: an `idempotency()` instance (share its store between
   * instances) or its options; the wrapper decides what is recorded.
   * @default idempotency(): a memory store of 10 000 records for 24 h, one per wrapper
   */
  idempotency?: Idempotency | IdempotencyOptions;
  /** The call's key (or a promise of it); `undefined` or `null` for none; anything else but a valid key is `BAD_REQUEST`. @default input.idempotencyKey */
  key?: (opts: O) => Awaitable<string | null | undefined>;
  /** Whose key it is (a user, a tenant), or a promise of it: scopes never share a record. */
  scope?: (opts: O) => Awaitable<string | undefined>;
  /** Refuse a call without a key (`BAD_REQUEST`), as the HTTP adapters' `required`. @default true */
  required?: boolean;
  /** Shortest key accepted, to refuse low-entropy keys. @default 1 */
  minKeyLength?: number;
  /** Longest key accepted (at most 1 024). @default 255 */
  maxKeyLength?: number;
  /**
   * The most bytes (UTF-8 JSON) of a result recorded: a larger one is answered but not
   * recorded, its key freed, and `logger` says so. @default 1_048_576 (1 MiB)
   */
  maxResultBytes?: number;
  /** Where results that could not be recorded (`warn`) and a `scope` that returns none (`error`, once) are logged. @default console */
  logger?: EventLogger;
  /** Your router's transformer (superjson), to record results in its form: a replay returns a `Date` or `BigInt` as the first call did. @default JSON */
  transformer?: { serialize(value: unknown): unknown; deserialize(value: unknown): unknown };
}

/**
 * An `idempotency()` of this copy of core or of another one, whose class `instanceof` does not
 * know (an ESM app that requires the CommonJS entry too): known by the one method called here.
 */
const isIdempotency = (value: unknown): value is Idempotency =>
  typeof (value as Idempotency | undefined)?.executeDetailed === 'function';

type Awaitable<T> = T | Promise<T>;

/** The longest key core's `idempotency.execute` takes. */
const MAX_CORE_KEY_LENGTH = 1_024;

const OPTION_NAMES = {
  idempotency: true,
  key: true,
  scope: true,
  required: true,
  minKeyLength: true,
  maxKeyLength: true,
  maxResultBytes: true,
  logger: true,
  transformer: true,
} as const;

/** Defaults of `idempotentMutation`. */
export const IDEMPOTENT_MUTATION_DEFAULTS = {
  required: true,
  minKeyLength: HTTP_DEFAULTS.minKeyLength,
  maxKeyLength: HTTP_DEFAULTS.maxKeyLength,
  maxResultBytes: 1_048_576,
} as const;

/**
 * What a run with a key records: the resolver's value, or the caller's own mistake to answer
 * again (`error`). Both keys are 5 letters, so either record is its result's JSON and
 * {@link ENVELOPE_BYTES} more.
 */
interface Outcome {
  readonly value?: unknown;
  readonly error?: { readonly code: TRPC_ERROR_CODE_KEY; readonly message: string };
}

/** The bytes a record adds to its result's JSON: `{"value":}` or `{"error":}`. `maxResultBytes` counts the result alone. */
const ENVELOPE_BYTES = 10;

/**
 * The caller's own mistake in `error`, as `errorFormatter` answers it: a 4xx, but not one that
 * tells the caller to come back (408, 429; a 409 whose cause is another key's call still
 * running, which `retryLink` retries: recorded, it would answer every retry for a day) or one
 * nobody heard (499) — core's `shouldRecordResponse`, the HTTP adapters' rule. A `TRPCError` or
 * anything else (an error with its own `status: 404`).
 */
function mistakeIn(error: unknown): Outcome['error'] {
  const trpc = getTRPCErrorFromUnknown(error);
  const { code, httpStatus, idempotencyKeyInUse } = errorAnswer(trpc);
  return shouldRecordResponse(httpStatus) && !idempotencyKeyInUse ? { code, message: trpc.message } : undefined;
}

/** Text a store writes as it is: no UTF-16 surrogate without its pair (UTF-8 would make two such keys one). */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/**
 * A control character (a line break, NUL, DEL, C1): no HTTP adapter's key holds one (an
 * `Idempotency-Key` is a structured-field string, printable ASCII), and a key goes as it is into
 * core's events, where `e.key` written to a log would forge its lines.
 */
const CONTROL = /\p{Cc}/u;

/**
 * The scope as the store keeps it: as it is, or, when core would refuse it (over 1 024
 * characters: a token as scope; a lone surrogate), '#' and the SHA-256 of its UTF-16 code
 * units, so two ill-formed scopes stay apart. Refused, every call of such a caller would fail.
 */
async function storedScope(scope: string): Promise<string> {
  if (scope.length <= 1_024 && !LONE_SURROGATE.test(scope)) return scope;
  const units = new Uint16Array(scope.length);
  for (let i = 0; i < scope.length; i++) units[i] = scope.charCodeAt(i);
  return `#${await sha256(new Uint8Array(units.buffer))}`;
}

/** The logger used when none is given: `console`, message first (as text: a `%` in a path is no format). */
const consoleLogger: Pick<EventLogger, 'warn' | 'error'> = {
  warn: (fields, message) => console.warn('%s', message, fields),
  error: (fields, message) => console.error('%s', message, fields),
};

// What the input carries, whatever it is: a key that is there but not a string is refused, not taken for none.
const keyInInput = (opts: ResolverInput): unknown => {
  return (opts.input as { idempotencyKey?: unknown } | null | undefined)?.idempotencyKey;
};

/**
 * Makes a mutation resolver idempotent: the first call with a key runs it and records its
 * result; a repeat gets that result without running it. A repeat while the first runs is
 * `CONFLICT`, the key with another input or procedure `UNPROCESSABLE_CONTENT`, a missing or malformed key
 * `BAD_REQUEST`; a 4xx error (but 408, 429, 499, an in-flight 409) is recorded, any other frees the key.
 *
 * @example
 * pay: t.procedure.input(z.object({ idempotencyKey: z.string(), amount: z.number() }))
 *   .mutation(idempotentMutation({ scope: ({ ctx }) => ctx.userId }, ({ input }) => charge(input.amount))),
 */
export function idempotentMutation<O extends ResolverInput, T>(
  options: IdempotentMutationOptions<O>,
  resolver: (opts: O) => T | Unrecorded<T> | Promise<T | Unrecorded<T>>,
): (opts: O) => Promise<T> {
  const v = new OptionsValidator('idempotentMutation');
  const o = v.known(options, OPTION_NAMES);
  v.function('resolver', resolver).required('resolver', resolver);
  v.function('key', o.key);
  v.function('scope', o.scope);
  v.boolean('required', o.required);
  v.integer('minKeyLength', o.minKeyLength, { min: 1 });
  // Core refuses a longer key on every call: each such call would be a 500 echoing its key, not a 400.
  v.integer('maxKeyLength', o.maxKeyLength, { min: 1, max: MAX_CORE_KEY_LENGTH });
  v.integer('maxResultBytes', o.maxResultBytes, { min: 0 });
  v.logger('logger', o.logger);
  const tx = o.transformer;
  v.check(
    tx === undefined || (typeof tx?.serialize === 'function' && typeof tx.deserialize === 'function'),
    'transformer',
    tx,
    'a transformer',
  );
  const min = o.minKeyLength ?? IDEMPOTENT_MUTATION_DEFAULTS.minKeyLength;
  const max = o.maxKeyLength ?? IDEMPOTENT_MUTATION_DEFAULTS.maxKeyLength;
  // No key could be both: every call would be refused. Compared once both are numbers: a
  // Symbol would throw here, instead of the issue reported above.
  if (typeof min === 'number' && typeof max === 'number') {
    v.check(!(min > max), 'minKeyLength', min, `at most maxKeyLength (${max})`);
  }
  const idem = built(v, 'idempotency', [], () =>
    isIdempotency(o.idempotency) ? o.idempotency : idempotency(o.idempotency),
  );
  const keyOf = o.key ?? keyInInput;
  const { scope: scopeOf } = o;
  const required = o.required ?? IDEMPOTENT_MUTATION_DEFAULTS.required;
  const maxResultBytes = o.maxResultBytes ?? IDEMPOTENT_MUTATION_DEFAULTS.maxResultBytes;
  const logger = o.logger ?? consoleLogger;
  let told = false;
  return async function idempotent(opts) {
    const key: unknown = await keyOf(opts);
    // Only an absent key is none: '' or a number is a key sent wrong, refused as the HTTP adapters refuse "" (never run unprotected).
    if (key === undefined || key === null) {
      if (required) throw new TRPCError({ code: 'BAD_REQUEST', message: 'An idempotency key is required' });
      const returned = await resolver(opts);
      return isUnrecorded(returned) ? (unrecordedValue(returned) as T) : (returned as T);
    }
    if (typeof key !== 'string' || key.length < min || key.length > max) {
      throw new TRPCError({
        code: 'BAD_REQUEST',
        message: `The idempotency key must be a string of ${min} to ${max} characters`,
      });
    }
    if (LONE_SURROGATE.test(key) || CONTROL.test(key)) {
      throw new TRPCError({ code: 'BAD_REQUEST', message: 'The idempotency key must be well-formed text' });
    }
    const scope = await scopeOf?.(opts);
    if (scope !== undefined && (typeof scope !== 'string' || scope === '')) {
      // An error, not one shared scope: '' for every caller without a user would replay one's result to another.
      const message = `idempotentMutation: scope returned ${scope === '' ? 'an empty string' : typeof scope}: return a non-empty string (whose key it is: a user or tenant id), or undefined for one scope for all`;
      // Said once where the server's operator reads it: tRPC logs no error of a call by itself.
      if (!told) logger.error({ path: opts.path }, message);
      told = true;
      throw new TypeError(message);
    }
    // The first run's own error, thrown as it was (its cause, its stack); a replay has its code and message.
    let thrown: unknown;
    // Its value too, as the resolver returned it: the record holds `transformer`'s form of it.
    let first: unknown;
    const run = async (): Promise<Outcome | Unrecorded<Outcome>> => {
      try {
        const returned = await resolver(opts);
        // The resolver's unrecorded() is core's, around the outcome: its value is answered, nothing is recorded.
        if (isUnrecorded(returned)) return unrecorded({ value: (first = unrecordedValue(returned)) }, returned.reason);
        first = returned;
        return { value: tx ? tx.serialize(returned) : returned };
      } catch (error) {
        const mistake = mistakeIn(error);
        if (mistake === undefined) throw error;
        thrown = error;
        return { error: mistake };
      }
    };
    let result: IdempotentResult<Outcome>;
    try {
      result = await idem.executeDetailed(key, run, {
        // What the client sent, not what the validators made of it: a default they fill in
        // (a generated id, new Date()) differs on each retry, which would then be refused 422.
        fingerprint: await inputFingerprint(opts.path, opts.getRawInput ? await opts.getRawInput() : opts.input),
        onInFlight: 'reject',
        maxRecordBytes: maxResultBytes + ENVELOPE_BYTES,
        ...(scope !== undefined && { scope: await storedScope(scope) }),
        ...(opts.signal && { signal: opts.signal }),
      });
    } catch (error) {
      reportDecision(error);
      throw translate(error);
    }
    const bytes = result.unrecorded?.bytes;
    if (bytes !== undefined) warnTooLarge(logger, opts.path, bytes - ENVELOPE_BYTES, maxResultBytes);
    const { value, error } = result.value;
    if (result.source === 'replayed') emitHttpDecision({ decision: 'replayed' });
    const executed = result.source === 'executed';
    if (error === undefined) return (executed ? first : tx ? tx.deserialize(value) : value) as T;
    throw executed ? thrown : new TRPCError(error);
  };
}

/** Says that a result over `maxResultBytes` was returned but not recorded. */
function warnTooLarge(logger: Pick<EventLogger, 'warn'>, path: string, bytes: number, maxResultBytes: number): void {
  logger.warn(
    { path, bytes, maxResultBytes },
    `idempotentMutation: the result of ${path} is ${bytes} bytes, over maxResultBytes (${maxResultBytes}), and was not recorded; a repeat with its key runs the resolver again`,
  );
}

/** Tells core's `onHttpDecision` listeners (the server span) what a failed call's error stands for, as the HTTP adapters do. */
function reportDecision(error: unknown): void {
  if (isResilienceError(error, 'in_flight') || isResilienceError(error, 'fingerprint_mismatch')) {
    emitHttpDecision({ decision: 'idempotency_conflict' });
  } else if (error instanceof ReplayedError) emitHttpDecision({ decision: 'replayed' });
  else if (isStoreUnavailableError(error)) emitHttpDecision({ decision: 'store_unavailable' });
}

/** Conflicts and replayed errors in tRPC's terms; anything else as it is. */
function translate(error: unknown): unknown {
  if (isResilienceError(error, 'in_flight')) {
    return new TRPCError({
      code: 'CONFLICT',
      message: 'A call with this idempotency key is in progress',
      cause: error,
    });
  }
  if (isResilienceError(error, 'fingerprint_mismatch')) {
    return new TRPCError({
      code: 'UNPROCESSABLE_CONTENT',
      // The fingerprint is the path's and the input's: the key of one call, sent with another (the HTTP adapters' method and path).
      message: 'This idempotency key was used with another procedure or input',
      cause: error,
    });
  }
  if (error instanceof ReplayedError && error.name === 'TRPCError' && typeof error.code === 'string') {
    return new TRPCError({ code: error.code as TRPC_ERROR_CODE_KEY, message: error.message });
  }
  return error;
}
