import { type IdempotencyKeyOptions, resolveIdempotencyKeyOptions } from './options.js';
import { type ProblemContext, type ProblemResponse, problemResponse } from './problem.js';
import { parseStringItem } from './structured-fields.js';

/** Why an `Idempotency-Key` header was refused. */
export type IdempotencyKeyFailureReason = 'missing' | 'unquoted' | 'malformed' | 'empty' | 'too_short' | 'too_long';

/** A refused `Idempotency-Key`: why, and a message for the client. */
export interface IdempotencyKeyFailure {
  readonly ok: false;
  readonly reason: IdempotencyKeyFailureReason;
  readonly message: string;
}

/** The key of a well-formed `Idempotency-Key` header, or why it was refused. */
export type IdempotencyKeyResult = { readonly ok: true; readonly key: string } | IdempotencyKeyFailure;

/** Parses one request's `Idempotency-Key` header value. */
export type IdempotencyKeyParser = (header: string | readonly string[] | undefined) => IdempotencyKeyResult;

const refuse = (reason: IdempotencyKeyFailureReason, message: string): IdempotencyKeyFailure => ({
  ok: false,
  reason,
  message: `Idempotency-Key: ${message}`,
});

/**
 * A parser for the `Idempotency-Key` header (an RFC 9651 String, `"8e03978e-40d5-43e8"`);
 * never throws. The reasons it refuses a key are listed in docs/http.md.
 */
export function idempotencyKeyParser(options: IdempotencyKeyOptions = {}): IdempotencyKeyParser {
  const { minKeyLength, maxKeyLength } = resolveIdempotencyKeyOptions(options);
  // A quoted key of maxKeyLength characters, each escaped, with room for parameters.
  const longestHeader = 2 * maxKeyLength + 256;
  return function parseIdempotencyKey(header) {
    let value = header;
    if (Array.isArray(value)) {
      if (value.length > 1) return refuse('malformed', 'send one key, in one header field');
      value = value[0];
    }
    if (typeof value !== 'string' || value.trim() === '') return refuse('missing', 'the header is required');
    if (value.length > longestHeader) return refuse('too_long', `at most ${maxKeyLength} characters`);
    const parsed = parseStringItem(value);
    if (!parsed.ok) return refuse(parsed.reason, parsed.why);
    const key = parsed.value;
    if (key.length === 0) return refuse('empty', 'the key is an empty string');
    if (key.length > maxKeyLength) return refuse('too_long', `at most ${maxKeyLength} characters`);
    if (key.length < minKeyLength) return refuse('too_short', `at least ${minKeyLength} characters`);
    return { ok: true, key };
  };
}

// A key in flight (409) and a key reused with another payload (422) come from `errorResponse`
// of the `IdempotencyConflictError`.
/**
 * The 400 problem+json for a refused key: `idempotency-key-missing` when the header is
 * absent where a key is required, `idempotency-key-invalid` otherwise, with the reason as
 * `detail`.
 */
export function idempotencyKeyProblem(failure: IdempotencyKeyFailure, context: ProblemContext = {}): ProblemResponse {
  const kind = failure.reason === 'missing' ? 'idempotency_key_missing' : 'idempotency_key_invalid';
  return problemResponse(kind, 400, 'validation', context, { detail: failure.message });
}
