import type { Transition } from '../store/store.js';
import type { DeadLetterReason } from './options.js';

/** Per message id (JSON): attempts started, the last error's text, and whether it was dead-lettered. */
export interface AttemptState {
  readonly n: number;
  readonly last?: string;
  readonly dead?: DeadLetterReason;
}

export interface AttemptOutput {
  /** This attempt's number (1 for the first). */
  readonly attempt: number;
  readonly last?: string;
  /** Set when the message was already dead-lettered: do not run or sink it again. */
  readonly dead?: DeadLetterReason;
}

/**
 * Counts an attempt before the handler runs, so an attempt that crashes the process
 * still counts (a message that kills its consumer is dead-lettered, not looped forever).
 */
export function attemptTransition(ttlMs: number): Transition<AttemptState, null, AttemptOutput> {
  return {
    name: 'messages.attempt',
    params: { ttlMs },
    apply(state, _input, _now) {
      if (state?.dead !== undefined) {
        return { state, output: { attempt: state.n, dead: state.dead }, ttlMs: 0, write: false };
      }
      const n = (state?.n ?? 0) + 1;
      const next: AttemptState = state?.last === undefined ? { n } : { n, last: state.last };
      return { state: next, output: { ...next, attempt: n }, ttlMs };
    },
  };
}

/** Remembers the last failure's text (for the dead-letter description after a crash). */
export function failedTransition(ttlMs: number): Transition<AttemptState, { readonly last: string }, null> {
  return {
    name: 'messages.failed',
    params: { ttlMs },
    apply(state, input) {
      if (state === undefined || state.dead !== undefined) return { state, output: null, ttlMs: 0, write: false };
      return { state: { ...state, last: input.last }, output: null, ttlMs };
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
