import {
  fingerprintInput,
  HTTP_DEFAULTS,
  Idempotency,
  type IdempotencyOptions,
  idempotency,
  isResilienceError,
  ReplayedError,
  shouldRecordResponse,
} from '@resilience/core';
import { OptionsValidator } from '@resilience/core/internal';
import { type TRPC_ERROR_CODE_KEY, TRPCError } from '@trpc/server';
import { errorAnswer } from './errors.js';

/** What a mutation resolver receives, as far as this wrapper reads it. */
export interface ResolverInput {
  readonly input: unknown;
  readonly path: string;
  readonly signal?: AbortSignal | undefined;
}

export interface IdempotentMutationOptions<O extends ResolverInput> {
  /**
   * Where outcomes are recorded: an `idempotency()` instance (share one store, such as
   * Redis, between instances), or its options.
   * @default idempotency({ recordErrors: 4xx TRPCErrors but 429 }): a memory store of 10 000 records for 24 h
   */
  idempotency?: Idempotency | IdempotencyOptions;
  /** The call's key. @default input.idempotencyKey */
  key?: (opts: O) => string | null | undefined;
  /** Whose key it is (a user, a tenant): keys of different scopes never share a record. */
  scope?: (opts: O) => string | undefined;
  /** Refuse a call without a key (`BAD_REQUEST`), as the HTTP adapters' `required`. @default true */
  required?: boolean;
  /** Shortest key accepted, to refuse low-entropy keys. @default 1 */
  minKeyLength?: number;
  /** Longest key accepted. @default 255 */
  maxKeyLength?: number;
}

const OPTION_NAMES = {
  idempotency: true,
  key: true,
  scope: true,
  required: true,
  minKeyLength: true,
  maxKeyLength: true,
} as const;

/** Defaults of `idempotentMutation`. */
export const IDEMPOTENT_MUTATION_DEFAULTS = {
  required: true,
  minKeyLength: HTTP_DEFAULTS.minKeyLength,
  maxKeyLength: HTTP_DEFAULTS.maxKeyLength,
} as const;

/** A failure worth replaying: the caller's own mistake (4xx but 429), never a server error or a limit. */
const recordable = (error: unknown) =>
  error instanceof TRPCError && shouldRecordResponse(errorAnswer(error).httpStatus);

const keyInInput = (opts: ResolverInput) => {
  const key = (opts.input as { idempotencyKey?: unknown } | null | undefined)?.idempotencyKey;
  return typeof key === 'string' ? key : undefined;
};

/**
 * Makes a mutation resolver idempotent: the first call with a key runs it and records its
 * result (which must be JSON); a repeat within the record's lifetime gets that result
 * without running it. tRPC middleware cannot answer with a stored result, so this wraps the
 * resolver: `.mutation(idempotentMutation(options, resolver))`. The HTTP adapters' rules
 * hold: a repeat while the first call runs is `CONFLICT` (409), the same key with another
 * input `UNPROCESSABLE_CONTENT` (422), a missing or malformed key `BAD_REQUEST` (400).
 *
 * @example
 * pay: t.procedure.input(z.object({ idempotencyKey: z.string(), amount: z.number() }))
 *   .mutation(idempotentMutation({ scope: ({ ctx }) => ctx.userId }, ({ input }) => charge(input.amount))),
 */
export function idempotentMutation<O extends ResolverInput, T>(
  options: IdempotentMutationOptions<O>,
  resolver: (opts: O) => T | Promise<T>,
): (opts: O) => Promise<T> {
  const v = new OptionsValidator('idempotentMutation');
  const o = v.known(options, OPTION_NAMES);
  v.function('resolver', resolver).required('resolver', resolver);
  v.function('key', o.key);
  v.function('scope', o.scope);
  v.boolean('required', o.required);
  v.integer('minKeyLength', o.minKeyLength, { min: 1 });
  v.integer('maxKeyLength', o.maxKeyLength, { min: 1 });
  v.done();
  const idem =
    options.idempotency instanceof Idempotency
      ? options.idempotency
      : idempotency({ recordErrors: recordable, ...options.idempotency });
  const keyOf = options.key ?? keyInInput;
  const required = options.required ?? IDEMPOTENT_MUTATION_DEFAULTS.required;
  const min = options.minKeyLength ?? IDEMPOTENT_MUTATION_DEFAULTS.minKeyLength;
  const max = options.maxKeyLength ?? IDEMPOTENT_MUTATION_DEFAULTS.maxKeyLength;
  return async function idempotent(opts) {
    const key = keyOf(opts);
    if (key === undefined || key === null || key === '') {
      if (required) throw new TRPCError({ code: 'BAD_REQUEST', message: 'An idempotency key is required' });
      return resolver(opts);
    }
    if (typeof key !== 'string' || key.length < min || key.length > max) {
      throw new TRPCError({ code: 'BAD_REQUEST', message: `The idempotency key must be ${min} to ${max} characters` });
    }
    const scope = options.scope?.(opts);
    try {
      const result = await idem.executeDetailed(key, () => resolver(opts), {
        fingerprint: await digest(fingerprintInput({ method: 'POST', path: opts.path, body: opts.input })),
        onInFlight: 'reject',
        ...(scope !== undefined && { scope }),
        ...(opts.signal && { signal: opts.signal }),
      });
      return result.value;
    } catch (error) {
      throw translate(error);
    }
  };
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
      message: 'This idempotency key was used with another input',
      cause: error,
    });
  }
  if (error instanceof ReplayedError && error.name === 'TRPCError' && typeof error.code === 'string') {
    return new TRPCError({ code: error.code as TRPC_ERROR_CODE_KEY, message: error.message });
  }
  return error;
}

/** The SHA-256 of a fingerprint's text, hex: records keep 64 characters, whatever the input's size. */
async function digest(text: string): Promise<string> {
  const bytes = new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)));
  let hex = '';
  for (const b of bytes) hex += b.toString(16).padStart(2, '0');
  return hex;
}
