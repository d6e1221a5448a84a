import type { JsonValue, Transition } from '../store/store.js';

/** A recorded error: what survives JSON (name, message, code, status). */
export interface RecordedError {
  readonly name: string;
  readonly message: string;
  readonly code?: string | number;
  readonly status?: number;
}

/** A finished call's outcome. */
export type RecordedOutcome =
  | { readonly ok: true; readonly value: JsonValue }
  | { readonly ok: false; readonly error: RecordedError };

/** One idempotency record (JSON): a call in flight, or a finished call's outcome. */
export type IdempotencyRecord =
  | { readonly s: 'in_flight'; readonly fp: string | null; readonly owner: string; readonly until: number }
  | { readonly s: 'done'; readonly fp: string | null; readonly owner?: string; readonly outcome: RecordedOutcome };

export type BeginOutput =
  | { readonly kind: 'acquired' }
  | { readonly kind: 'in_flight'; readonly waitMs: number }
  | { readonly kind: 'mismatch' }
  | { readonly kind: 'done'; readonly outcome: RecordedOutcome };

const mismatch = (a: string | null, b: string | null) => a !== null && b !== null && a !== b;

/**
 * Claims a key for a new call: free keys and in-flight records past their lock (owner
 * died) are taken; otherwise reports the record's state. Read-only unless it claims.
 */
export function beginTransition(
  lockTimeoutMs: number,
): Transition<IdempotencyRecord, { readonly fp: string | null; readonly owner: string }, BeginOutput> {
  return {
    name: 'idempotency.begin',
    params: { lockTimeoutMs },
    apply(state, input, now) {
      // An in-flight record whose lock time is missing (damaged) is one whose lock is over.
      if (state === undefined || (state.s === 'in_flight' && !(state.until > now))) {
        const next: IdempotencyRecord = {
          s: 'in_flight',
          fp: input.fp,
          owner: input.owner,
          until: now + lockTimeoutMs,
        };
        // Pinned: a bounded store must not evict the lock while the call runs (it would run twice).
        return { state: next, output: { kind: 'acquired' }, ttlMs: lockTimeoutMs, pinned: true };
      }
      if (mismatch(state.fp, input.fp)) return { state, output: { kind: 'mismatch' }, ttlMs: 0, write: false };
      if (state.s === 'in_flight') {
        // The same claim again (its answer lost with a connection, sent again): the owner's own.
        if (state.owner === input.owner) return { state, output: { kind: 'acquired' }, ttlMs: 0, write: false };
        return { state, output: { kind: 'in_flight', waitMs: state.until - now }, ttlMs: 0, write: false };
      }
      return { state, output: { kind: 'done', outcome: state.outcome }, ttlMs: 0, write: false };
    },
  };
}

/**
 * Records a finished call's outcome, if this owner still holds the key (or the key was
 * dropped meanwhile). Outputs whether its record is there.
 */
export function completeTransition(
  ttlMs: number,
): Transition<
  IdempotencyRecord,
  { readonly fp: string | null; readonly owner: string; readonly outcome: RecordedOutcome },
  boolean
> {
  return {
    name: 'idempotency.complete',
    params: { ttlMs },
    apply(state, input) {
      if (state !== undefined && !(state.s === 'in_flight' && state.owner === input.owner)) {
        // Its own record (this write sent again, its answer lost with a connection): recorded.
        return { state, output: state.owner === input.owner, ttlMs: 0, write: false };
      }
      return { state: { s: 'done', fp: input.fp, owner: input.owner, outcome: input.outcome }, output: true, ttlMs };
    },
  };
}

/** Frees a key whose call failed with an error not to be recorded, if this owner holds it. */
export const releaseTransition: Transition<IdempotencyRecord, { readonly owner: string }, boolean> = {
  name: 'idempotency.release',
  params: null,
  apply(state, input) {
    if (state?.s === 'in_flight' && state.owner === input.owner) return { state: undefined, output: true, ttlMs: 0 };
    return { state, output: false, ttlMs: 0, write: false };
  },
};
