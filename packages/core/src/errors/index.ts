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
  isRequestTimeoutError,
  isResilienceError,
  isRetryExhaustedError,
  isStoreFullError,
  isStoreUnavailableError,
  isThrottledError,
  isTimeoutError,
  type OptionIssue,
  RateLimitExceededError,
  RequestTimeoutError,
  ResilienceError,
  type ResilienceErrorCode,
  RetryExhaustedError,
  SagaError,
  StoreFullError,
  StoreUnavailableError,
  ThrottledError,
  TimeoutError,
} from './errors.js';
export { type ErrorFilter, handle } from './handle.js';
export { parseRetryAfter, retryAfterMs } from './retry-after.js';
export type { OptionNames } from './validate.js';
