export { classify, type ErrorCategory, isTransient, statusOf } from './classify.js';
export {
  BrokenCircuitError,
  BulkheadRejectedError,
  ConfigurationError,
  IdempotencyConflictError,
  IsolatedCircuitError,
  isBrokenCircuitError,
  isBulkheadRejectedError,
  isConfigurationError,
  isOwnRejection,
  isRateLimitExceededError,
  isResilienceError,
  isRetryExhaustedError,
  isStoreFullError,
  isStoreUnavailableError,
  isTimeoutError,
  type OptionIssue,
  RateLimitExceededError,
  ResilienceError,
  type ResilienceErrorCode,
  RetryExhaustedError,
  SagaError,
  StoreFullError,
  StoreUnavailableError,
  TimeoutError,
} from './errors.js';
export { type ErrorFilter, handle } from './handle.js';
export { parseRetryAfter, retryAfterMs } from './retry-after.js';
export type { OptionNames } from './validate.js';
