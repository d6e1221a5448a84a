import { ConfigurationError } from '../errors/errors.js';
import type { JsonValue, PackedCodec, Transition } from '../store/store.js';

/** The outcome of one `consume`, `peek` or `wait`: a result, never an exception. */
export interface RateLimitDecision {
  /** Whether the request was (or, for `peek`, would be) admitted. */
  readonly allowed: boolean;
  /** The most cost this limit admits at once (capacity, burst or window limit). */
  readonly limit: number;
  /** Cost still admissible right now after this decision (whole units, rounded down). */
  readonly remaining: number;
  /** Milliseconds until the key is back to full (`remaining === limit`). */
  readonly resetMs: number;
  /** Milliseconds until this request's cost would be admitted; `0` when allowed. */
  readonly retryAfterMs: number;
  /** With several algorithms, each one's decision in the order of `algorithm` (a refused consume takes from none). */
  readonly limits?: readonly RateLimitDecision[];
  /**
   * Present when the store failed and the limiter decided without it (`onStoreError`):
   * `'open'` passed the request, a fallback store decided it.
   */
  readonly degraded?: true;
  /** Present on `onStoreError: 'open'`'s decision: passed uncounted, so `remaining` and `resetMs` describe no count. */
  readonly uncounted?: true;
}

/**
 * One rate-limiting algorithm with its configuration: the store transitions that consume
 * and peek, over a small numeric JSON state. Build with `tokenBucket`, `gcra`,
 * `slidingWindow` or `fixedWindow`.
 */
export interface RateLimitAlgorithm<S extends JsonValue = JsonValue> {
  /** The algorithm's kind, e.g. `'tokenBucket'`. */
  readonly kind: string;
  /** The `limit` reported in decisions. */
  readonly limit: number;
  /** The ms over which `limit` is earned back (the `w` of a `RateLimit-Policy` header; see docs/rate-limiting.md). */
  readonly windowMs: number;
  /** The largest cost the algorithm can ever admit; more throws `ConfigurationError` naming `cost`. */
  readonly maxCost: number;
  /** Takes `cost` (the input) when it fits; a refused consume writes nothing. */
  readonly consume: Transition<S, number, RateLimitDecision>;
  /** The decision `consume` would return for `cost`, without writing (`remaining` is not reduced by `cost`). */
  readonly peek: Transition<S, number, RateLimitDecision>;
}

/** Tolerance for floating-point drift in refill arithmetic (in units of cost). */
export const EPSILON = 1e-9;

export const decision = (
  allowed: boolean,
  limit: number,
  remaining: number,
  resetMs: number,
  retryAfterMs: number,
): RateLimitDecision => ({ allowed, limit, remaining, resetMs, retryAfterMs });

/**
 * The numeric core of an algorithm: reads the state at `s[at ..]` (absent when `fresh`),
 * writes the next state to `next[0 .. width)`, its TTL to `next[width]` (`NaN` when
 * nothing is written: a refusal or a peek) and acceptance to `next[width + 1]`.
 */
export type Step = (
  s: Float64Array,
  at: number,
  fresh: boolean,
  cost: number,
  now: number,
  next: Float64Array,
  commit: boolean,
) => RateLimitDecision;

/** Builds the consume and peek transitions of an algorithm from its numeric step. */
export function defineAlgorithm<S extends JsonValue>(
  kind: string,
  params: JsonValue,
  codec: PackedCodec<S>,
  step: Step,
  limit: number,
  maxCost: number,
  windowMs: number,
): RateLimitAlgorithm<S> {
  const width = codec.width;
  const transition = (name: string, commit: boolean): Transition<S, number, RateLimitDecision> => {
    const current = new Float64Array(width);
    const next = new Float64Array(width + 2);
    return {
      name,
      params,
      packed: {
        codec,
        step: (s, at, fresh, cost, now, out) => step(s, at, fresh, cost, now, out, commit),
      },
      apply(state, cost, now) {
        if (state !== undefined) codec.pack(state, current, 0);
        // Another algorithm's state (two limiters sharing a store and name) packs to NaN: absent.
        const output = step(
          current,
          0,
          state === undefined || !current.every(Number.isFinite),
          cost,
          now,
          next,
          commit,
        );
        const ttlMs = next[width]!;
        if (Number.isNaN(ttlMs)) return { state, output, ttlMs: 0, write: false, accepted: output.allowed };
        return {
          state: ttlMs > 0 ? codec.unpack(next, 0) : undefined,
          output,
          ttlMs,
          accepted: output.allowed,
        };
      },
    };
  };
  return {
    kind,
    limit,
    windowMs,
    maxCost,
    consume: transition(`ratelimit.${kind}`, true),
    peek: transition(`ratelimit.${kind}.peek`, false),
  };
}

/** The error for a rate-limit key that is not a string (objects would all share the bucket `[object Object]`). */
/**
 * The key a limiter counts: a key over 256 characters (a token, a header an attacker fills
 * with 16 KB) is counted under its first 64 and a 64-bit digest of the whole, so every key
 * costs the memory of a short one.
 */
export function fitKey(key: string): string {
  if (key.length <= 256) return key;
  let a = 0x811c9dc5;
  let b = 0x9e3779b9;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x85ebca77);
  }
  return `${key.slice(0, 64)}~${(a >>> 0).toString(36)}${(b >>> 0).toString(36)}`;
}

export function keyError(key: unknown): TypeError {
  const kind = key === null ? 'null' : typeof key;
  return new TypeError(`rate limit key: expected a string (a user id, an IP address ...), received ${kind}`);
}

/** The error for a cost no limit can ever admit (or not a number >= 0). */
export function costError(cost: unknown, maxCost: number): ConfigurationError {
  return new ConfigurationError('rate limit', [
    { option: 'cost', received: cost, allowed: `a finite number >= 0 and <= ${maxCost}` },
  ]);
}
