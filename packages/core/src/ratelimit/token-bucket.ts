import { type OptionNames, OptionsValidator } from '../errors/validate.js';
import type { PackedCodec } from '../store/store.js';
import { decision, defineAlgorithm, EPSILON, type RateLimitAlgorithm, type Step } from './algorithm.js';

export interface TokenBucketOptions {
  /** Most tokens held, so the largest burst and the largest cost. @default 60 */
  capacity?: number;
  /** Tokens added per second, continuously. @default 1 */
  refillPerSecond?: number;
}

/** 60 tokens refilled at 1 per second: 60 requests a minute with bursts of up to 60. */
export const TOKEN_BUCKET_DEFAULTS = { capacity: 60, refillPerSecond: 1 } as const;

/** Every option of `tokenBucket`; any other name is rejected. */
export const TOKEN_BUCKET_OPTION_NAMES = {
  capacity: true,
  refillPerSecond: true,
} as const satisfies OptionNames<TokenBucketOptions>;

/** The stored state: tokens left at time `at` (ms). Absent means full. */
export type TokenBucketState = { readonly tokens: number; readonly at: number };

const codec: PackedCodec<TokenBucketState> = {
  width: 2,
  pack(state, into, offset) {
    into[offset] = state.tokens;
    into[offset + 1] = state.at;
  },
  unpack: (from, offset) => ({ tokens: from[offset]!, at: from[offset + 1]! }),
};

/**
 * A token bucket with continuous refill: a cost `c` passes when `c` tokens are there; any `t`
 * ms admit at most `capacity + refillPerSecond · t / 1000`.
 */
export function tokenBucket(options: TokenBucketOptions = {}): RateLimitAlgorithm<TokenBucketState> {
  const v = new OptionsValidator('tokenBucket');
  const o = v.known(options, TOKEN_BUCKET_OPTION_NAMES);
  v.number('capacity', o.capacity, { gt: 0 });
  v.number('refillPerSecond', o.refillPerSecond, { gt: 0 });
  v.done();
  const capacity = options.capacity ?? TOKEN_BUCKET_DEFAULTS.capacity;
  const refillPerSecond = options.refillPerSecond ?? TOKEN_BUCKET_DEFAULTS.refillPerSecond;
  const perMs = refillPerSecond / 1000;
  // Sound values whose refill time overflows (or rounds to 0) would answer Infinity or NaN.
  v.check(capacity / perMs < Infinity, 'refillPerSecond', refillPerSecond, 'capacity ÷ refillPerSecond finite').done();

  const step: Step = (s, at, fresh, cost, now, next, commit) => {
    let tokens = capacity;
    let from = now;
    if (!fresh) {
      const last = s[at + 1]!;
      tokens = s[at]!;
      if (now > last) tokens = Math.min(capacity, tokens + (now - last) * perMs);
      // A clock stepped back: refill from the later time (skew), or start over after a step of more than a refill.
      else if (last - now > capacity / perMs) tokens = capacity;
      else from = last;
    }
    const allowed = tokens + EPSILON >= cost;
    if (!allowed || !commit) {
      next[2] = Number.NaN;
      next[3] = allowed ? 1 : 0;
      return decision(
        allowed,
        capacity,
        Math.floor(tokens + EPSILON),
        Math.ceil((capacity - tokens) / perMs),
        allowed ? 0 : Math.ceil((cost - tokens - EPSILON) / perMs),
      );
    }
    const left = tokens > cost ? tokens - cost : 0;
    const resetMs = (capacity - left) / perMs;
    next[0] = left;
    next[1] = from;
    next[2] = resetMs;
    next[3] = 1;
    return decision(true, capacity, Math.floor(left + EPSILON), Math.ceil(resetMs), 0);
  };
  return defineAlgorithm(
    'tokenBucket',
    { capacity, refillPerSecond },
    codec,
    step,
    capacity,
    capacity,
    capacity / perMs,
  );
}
