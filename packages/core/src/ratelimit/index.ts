export type { RateLimitAlgorithm, RateLimitDecision } from './algorithm.js';
export { type GcraOptions, type GcraState, gcra } from './gcra.js';
export {
  defaultOperationLimits,
  OPERATION_LIMITS_PER_MINUTE,
  RATE_LIMIT_GROUP_DEFAULTS,
  RateLimitGroup,
  type RateLimitGroupOptions,
  rateLimitGroup,
} from './group.js';
export {
  type RateLimitEvent,
  RateLimiter,
  type RateLimitPolicyOptions,
  type RateLimitStats,
  rateLimiter,
} from './limiter.js';
export { RATE_LIMITER_DEFAULTS, type RateLimiterOptions, type WaitOptions } from './options.js';
export { quotaPresets } from './presets.js';
export { TOKEN_BUCKET_DEFAULTS, type TokenBucketOptions, type TokenBucketState, tokenBucket } from './token-bucket.js';
export {
  type FixedWindowState,
  fixedWindow,
  type SlidingWindowState,
  slidingWindow,
  type WindowOptions,
} from './windows.js';
