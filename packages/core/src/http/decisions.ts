import { type Disposer, reportListenerError } from '../events/emitter.js';

/** What a server adapter decided instead of running the handler. */
export type HttpDecisionKind =
  | 'rate_limited'
  | 'shed'
  | 'replayed'
  | 'timed_out'
  | 'idempotency_conflict'
  | 'store_unavailable';

/** One decision of a server adapter; every field is low-cardinality (no key, no URL, no user). */
export interface HttpDecision {
  readonly decision: HttpDecisionKind;
  /** The rate-limit policy that decided (its `name`), for `rate_limited` and its `store_unavailable`. */
  readonly policy?: string;
}

type Listener = (decision: HttpDecision) => void;

// On globalThis under a registered symbol, so a listener subscribed through one copy of core
// (ESM and CJS entries, two installed versions) hears the adapters built on every copy; absent
// while nobody listens, so an adapter's emit costs one property read.
const KEY = Symbol.for('@resilience/core:http-decisions');
const slot = globalThis as { [KEY]?: readonly Listener[] };

/**
 * Subscribes to every server adapter's decisions, called in the request's async context;
 * returns a disposer.
 * @example
 * const stop = onHttpDecision(({ decision, policy }) => shedCounter.inc({ decision, policy }));
 */
export function onHttpDecision(listener: (decision: HttpDecision) => void): Disposer {
  if (typeof listener !== 'function') throw new TypeError('onHttpDecision: expected a function');
  const own: Listener = (decision) => listener(decision); // one entry per subscription
  slot[KEY] = [...(slot[KEY] ?? []), own];
  return () => {
    const rest = (slot[KEY] ?? []).filter((l) => l !== own);
    if (rest.length > 0) slot[KEY] = rest;
    else delete slot[KEY];
  };
}

// Tells every {@link onHttpDecision} listener about `decision`; one property read when there is none.
export function emitHttpDecision(decision: HttpDecision): void {
  const listeners = slot[KEY];
  if (listeners === undefined) return;
  for (const listener of listeners) {
    try {
      listener(decision);
    } catch (error) {
      reportListenerError(listener, error, decision);
    }
  }
}
