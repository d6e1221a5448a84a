// @resilience/trpc/server: middleware and helpers for a tRPC server. Loads no client code.
export {
  type ErrorAnswer,
  errorAnswer,
  errorFormatter,
  errorHeaders,
  type ResilienceErrorData,
  responseMeta,
} from './server/errors.js';
export {
  IDEMPOTENT_MUTATION_DEFAULTS,
  type IdempotentMutationOptions,
  idempotentMutation,
  type ResolverInput,
} from './server/idempotent.js';
export {
  type RateLimitKeyInput,
  type RateLimitMiddlewareOptions,
  type ResilienceMiddleware,
  rateLimitMiddleware,
} from './server/rate-limit.js';
export { type TimeoutMiddlewareOptions, timeoutMiddleware } from './server/timeout.js';
