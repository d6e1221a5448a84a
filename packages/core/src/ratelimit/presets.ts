import type { TokenBucketOptions } from './token-bucket.js';

/** A token bucket of `requests` a minute: a burst of up to `requests`, refilled continuously. */
export const perMinute = (requests: number): Required<TokenBucketOptions> => ({
  capacity: requests,
  refillPerSecond: requests / 60,
});

/**
 * Client-side quotas of LLM providers, as `tokenBucket` options. Each access returns a fresh
 * object: `rateLimiter({ algorithm: tokenBucket(quotaPresets.gpt4) })`, or override the
 * burst with `tokenBucket({ ...quotaPresets.gpt35, capacity: 60 })`. Check your account's
 * real limits: they depend on the tier.
 * - `gpt4`: 60 requests a minute.
 * - `gpt35`: 3 500 requests a minute (GPT-3.5).
 * - `claude`: 50 requests a minute.
 */
export const quotaPresets = {
  get gpt4(): Required<TokenBucketOptions> {
    return perMinute(60);
  },
  get gpt35(): Required<TokenBucketOptions> {
    return perMinute(3_500);
  },
  get claude(): Required<TokenBucketOptions> {
    return perMinute(50);
  },
};
