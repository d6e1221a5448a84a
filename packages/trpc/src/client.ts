// @resilience/trpc/client: links for a tRPC client. Loads no server code.
export {
  CIRCUIT_BREAKER_LINK_DEFAULTS,
  type CircuitBreakerLink,
  type CircuitBreakerLinkOptions,
  circuitBreakerLink,
} from './client/breaker-link.js';
export { RATE_LIMIT_LINK_DEFAULTS, type RateLimitLinkOptions, rateLimitLink } from './client/rate-limit-link.js';
export {
  hasIdempotencyKey,
  isIdempotencyKeyInUse,
  type RetryLinkOptions,
  retryLink,
} from './client/retry-link.js';
export { type TimeoutLinkOptions, timeoutLink } from './client/timeout-link.js';
