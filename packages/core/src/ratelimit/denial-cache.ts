import type { RateLimitDecision } from './algorithm.js';

/** One remembered denial: refused for `cost` until `until` (local clock ms). */
interface Denial {
  readonly cost: number;
  readonly at: number;
  readonly until: number;
  readonly decision: RateLimitDecision;
}

/** A decision `elapsedMs` later: its waits counted down. */
function countedDown(d: RateLimitDecision, elapsedMs: number): RateLimitDecision {
  const out = {
    ...d,
    retryAfterMs: Math.max(0, d.retryAfterMs - elapsedMs),
    resetMs: Math.max(0, d.resetMs - elapsedMs),
  };
  if (d.limits !== undefined) out.limits = d.limits.map((l) => countedDown(l, elapsedMs));
  return out;
}

/**
 * The latest denial of each key, so a limiter over a networked store refuses a key again
 * without a round trip until the store said it could pass. A denial for `cost` holds for
 * that cost until `now + retryAfterMs`, in the limiter's own clock: the
 * store's `retryAfterMs` is a duration, counted from when the request was sent, so a store
 * deciding on another clock (Redis under `time: 'server'`) converts exactly, and the local
 * refusal never outlasts the store's. Other instances can only consume more, never make
 * the wait shorter; a `reset(key)` on another instance is seen only once the denial ends.
 *
 * Memory: at most `maxKeys` denials (a `Map` entry, the key and its decision); past it the
 * oldest written is dropped. An expired denial goes when its key is next looked up, as
 * does one the clock has stepped back before.
 */
export class DenialCache {
  readonly #maxKeys: number;
  readonly #denials = new Map<string, Denial>();
  /** Decisions answered from the cache. */
  hits = 0;

  constructor(maxKeys: number) {
    this.#maxKeys = maxKeys;
  }

  /** The denial `key` still has for `cost` at `now`, counted down; `undefined` when the store must decide. */
  lookup(key: string, cost: number, now: number): RateLimitDecision | undefined {
    const denial = this.#denials.get(key);
    if (denial === undefined) return undefined;
    // A clock stepped back (NTP) must not refuse the key for the length of the step: ask the store.
    if (now >= denial.until || now < denial.at) {
      this.#denials.delete(key);
      return undefined;
    }
    // A larger cost waits longer than the cached retryAfterMs: only the same cost is answered.
    if (cost !== denial.cost) return undefined;
    this.hits++;
    return countedDown(denial.decision, now - denial.at);
  }

  /** Takes note of the store's decision for `key` and `cost`, asked at `now`. */
  remember(key: string, cost: number, decision: RateLimitDecision, now: number): void {
    const denials = this.#denials;
    if (decision.allowed || decision.degraded) {
      if (denials.size > 0) denials.delete(key);
      return;
    }
    const wait = decision.retryAfterMs;
    if (!(wait > 0 && wait < Number.POSITIVE_INFINITY)) return;
    denials.delete(key); // re-inserted last: the map's order is the order of writing
    if (denials.size >= this.#maxKeys) denials.delete(denials.keys().next().value as string);
    denials.set(key, { cost, at: now, until: now + wait, decision });
  }

  forget(key: string): void {
    this.#denials.delete(key);
  }
}
