import type { TokenBucketOptions } from './token-bucket.js';

/** A token bucket of `requests` a minute: a burst of up to `requests`, refilled continuously. */
export const perMinute = (requests: number): Required<TokenBucketOptions> => ({
  capacity: requests,
  refillPerSecond: requests / 60,
});

/**
 * Client-side LLM quotas as `tokenBucket` options (a fresh object each access): `gpt4` 60,
 * `gpt35` 3 500, `claude` 50 requests a minute. Check your tier's real limits.
 * @example rateLimiter({ algorithm: tokenBucket(quotaPresets.gpt4) })
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
