import type { Transition } from '../store/store.js';
import type { DeadLetterReason } from './options.js';

/** A delivery's claim on dead-lettering a message: the delivery's own claim id and the end of its lease. */
export interface SinkClaim {
  readonly by: string;
  readonly until: number;
}

/**
 * Per message id (JSON): attempts started, the last error's text, whether it was
 * dead-lettered, and which delivery is dead-lettering it now.
 */
export interface AttemptState {
  readonly n: number;
  readonly last?: string;
  /** Why a delivery whose sink failed was dead-lettering it: a redelivery sinks it for that, unrun. */
  readonly owe?: DeadLetterReason;
  readonly dead?: DeadLetterReason;
  readonly sink?: SinkClaim;
}

export interface AttemptOutput {
  /** This attempt's number (1 for the first). */
  readonly attempt: number;
  readonly last?: string;
  /** Set when an earlier delivery's sink failed: dead-letter the message for this reason, unrun. */
  readonly owe?: DeadLetterReason;
  /** Set when the message was already dead-lettered: do not run or sink it again. */
  readonly dead?: DeadLetterReason;
  /** Set when another delivery is dead-lettering the message now: do not run it; redeliver later. */
  readonly sinking?: true;
}

const claimLive = (state: AttemptState | undefined, now: number): state is AttemptState & { sink: SinkClaim } =>
  state?.sink !== undefined && state.sink.until > now;

/**
 * Counts an attempt before the handler runs, so an attempt that crashes the process
 * still counts (a message that kills its consumer is dead-lettered, not looped forever).
 * Counts nothing while the message is dead-lettered or being dead-lettered.
 */
export function attemptTransition(ttlMs: number): Transition<AttemptState, null, AttemptOutput> {
  return {
    name: 'messages.attempt',
    params: { ttlMs },
    apply(state, _input, now) {
      if (state?.dead !== undefined) {
        return { state, output: { attempt: state.n, dead: state.dead }, ttlMs: 0, write: false };
      }
      if (claimLive(state, now)) return { state, output: { attempt: state.n, sinking: true }, ttlMs: 0, write: false };
      const { sink: _, ...kept } = state ?? {};
      const n = (state?.n ?? 0) + 1;
      const next: AttemptState = { ...kept, n };
      return { state: next, output: { ...next, attempt: n }, ttlMs };
    },
  };
}

/** Remembers the last failure's text (for the dead-letter description after a crash). */
export function failedTransition(ttlMs: number): Transition<AttemptState, { readonly last: string }, null> {
  return {
    name: 'messages.failed',
    params: { ttlMs },
    apply(state, input, now) {
      if (state === undefined || state.dead !== undefined) return { state, output: null, ttlMs: 0, write: false };
      return { state: { ...state, last: input.last }, output: null, ttlMs, pinned: claimLive(state, now) };
    },
  };
}

/**
 * A success forgets the message's counter, unless another delivery dead-lettered it or is
 * dead-lettering it now: deleting that would let the sink be called twice for one id.
 */
export function doneTransition(): Transition<AttemptState, null, null> {
  return {
    name: 'messages.done',
    params: null,
    apply(state, _input, now) {
      const keep = state?.dead !== undefined || claimLive(state, now);
      return keep ? { state, output: null, ttlMs: 0, write: false } : { state: undefined, output: null, ttlMs: 0 };
    },
  };
}

/** What a claim on dead-lettering a message found. */
export type ClaimOutput = 'claimed' | 'busy' | 'dead';

/**
 * Claims the dead-lettering of a message for the delivery whose claim id is `by` (drawn
 * per delivery: two deliveries can share an attempt number once the counter was evicted
 * or expired), before it calls the sink, so concurrent deliveries never call it twice: `busy` while
 * another delivery's lease runs, `dead` once the message was dead-lettered. The same
 * delivery claiming again renews its lease (`leaseMs` from now); a lease that ran out
 * (its holder crashed) may be claimed by anyone. The claim notes why (`reason`, as `owe`)
 * and the error's text (`last`): a delivery that ends without marking the message dead (a
 * crash, a failed mark) leaves it owed, so the redelivery sinks it unrun.
 */
export function claimTransition(
  ttlMs: number,
  leaseMs: number,
): Transition<
  AttemptState,
  { readonly by: string; readonly reason?: DeadLetterReason; readonly last?: string },
  ClaimOutput
> {
  return {
    name: 'messages.claim',
    params: { ttlMs, leaseMs },
    apply(state, input, now) {
      if (state?.dead !== undefined) return { state, output: 'dead', ttlMs: 0, write: false };
      if (claimLive(state, now) && state.sink.by !== input.by) return { state, output: 'busy', ttlMs: 0, write: false };
      const { reason, last } = input;
      const sink: SinkClaim = { by: input.by, until: now + leaseMs };
      const next: AttemptState = {
        ...state,
        ...(last !== undefined && { last }),
        ...(reason !== undefined && { owe: reason }),
        n: state?.n ?? 0,
        sink,
      };
      // Pinned: a bounded store evicting a live claim would let a concurrent delivery sink it too.
      return { state: next, output: 'claimed', ttlMs: Math.max(ttlMs, leaseMs), pinned: true };
    },
  };
}

/**
 * Gives up the claim of delivery `by` after its sink failed, noting the error being
 * dead-lettered (`last`) and why (`reason`), so a redelivery dead-letters the message for
 * that reason without running it. Outputs whether `by` still held the claim.
 */
export function releaseTransition(
  ttlMs: number,
): Transition<
  AttemptState,
  { readonly by: string; readonly last?: string; readonly reason: DeadLetterReason },
  boolean
> {
  return {
    name: 'messages.release',
    params: { ttlMs },
    apply(state, input) {
      if (state?.sink?.by !== input.by) return { state, output: false, ttlMs: 0, write: false };
      const last = input.last ?? state.last;
      const owe = input.reason;
      return { state: last === undefined ? { n: state.n, owe } : { n: state.n, last, owe }, output: true, ttlMs };
    },
  };
}

/** Marks the message dead-lettered, so a redelivery is acknowledged without sinking it twice. */
export function deadTransition(ttlMs: number): Transition<AttemptState, { readonly reason: DeadLetterReason }, null> {
  return {
    name: 'messages.dead',
    params: { ttlMs },
    apply(state, input) {
      return { state: { n: state?.n ?? 0, dead: input.reason }, output: null, ttlMs };
    },
  };
}
