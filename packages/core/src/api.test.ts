// The runtime exports of each entry point. Every name exported from `@resilience/core` or
// `@resilience/core/testing` is a semver promise, so adding one is a decision, made here.
//
// What is public (a folder's index.ts): what users write against — factories and the
// classes they return, strategies and algorithms, presets, the `<NAME>_DEFAULTS` constants,
// errors with their guards and the error helpers (`classify`, `statusOf`, `retryAfterMs`...)
// — and what store and adapter authors implement or call: the `Store` and `Transition`
// contract with `isStore` and `breakerTransition`, `Clock` and the system clocks,
// `PolicyBase`, the health/JSON helpers. A value only core's own modules use is not exported
// at all; one that the packages of this repository share with core goes to
// `src/internal.ts` (`@resilience/core/internal`, no semver promise).
import { expect, it } from 'vitest';
import * as core from './index.js';
import * as internal from './internal.js';
import * as testing from './testing.js';

const PUBLIC: Record<string, readonly string[]> = {
  alerting: [
    ...['ALERTING_DEFAULTS', 'Alerting', 'RULE_DEFAULTS', 'WEBHOOK_DEFAULTS', 'alerting', 'defaultRules'],
    ...['describeAlert', 'logHandler', 'rule', 'webhookHandler'],
  ],
  breaker: [
    ...['BREAKER_DEFAULTS', 'BreakerRegistry', 'CircuitBreakerPolicy', 'SharedCircuitBreaker', 'TIME_WINDOW_DEFAULTS'],
    ...['breakerPresets', 'breakerRegistry', 'breakerSyncTransition', 'breakerTransition', 'circuitBreaker'],
    ...['consecutive', 'countWindow'],
    ...['countsAsFailure', 'timeWindow', 'worseBreakerState'],
  ],
  bulkhead: ['BULKHEAD_DEFAULTS', 'BulkheadPolicy', 'bulkhead'],
  chaos: ['CHAOS_DEFAULTS', 'ChaosPolicy', 'chaos'],
  client: [
    ...['CLIENT_DEFAULTS', 'HttpStatusError', 'IDEMPOTENCY_KEY_HEADER', 'IDEMPOTENT_METHODS', 'KEYED_METHODS'],
    ...['RETRYABLE_STATUSES', 'ResilientClient', 'hostKeyOf', 'isIdempotentRequest', 'isRetryableFailure'],
    ...['isRetryableStatus', 'resilienceDetails', 'resilientClient'],
  ],
  clock: ['CoarseClock', 'coarseSystemClock', 'systemClock', 'systemRandom'],
  concurrency: ['ADAPTIVE_LIMIT_DEFAULTS', 'adaptiveLimit'],
  config: [
    ...['ENV_DEFAULTS', 'ENV_VARIABLES', 'optionsFromEnv', 'toBreakerOptions', 'toMessageProcessorOptions'],
    ...['toRateLimiterOptions', 'toRetryOptions'],
  ],
  errors: [
    ...['BrokenCircuitError', 'BulkheadRejectedError', 'ConfigurationError', 'IdempotencyConflictError'],
    ...[
      'IdempotencyRecordError',
      'IsolatedCircuitError',
      'RateLimitExceededError',
      'RequestTimeoutError',
      'ResilienceError',
      'RetryExhaustedError',
      'SagaError',
      'StoreFullError',
      'StoreUnavailableError',
      'ThrottledError',
    ],
    ...['TimeoutError', 'classify', 'handle', 'isBrokenCircuitError', 'isBulkheadRejectedError'],
    ...['isConfigurationError', 'isIdempotencyRecordError', 'isOwnRejection', 'isRateLimitExceededError'],
    ...['isRequestTimeoutError'],
    ...['isResilienceError'],
    ...[
      'isRetryExhaustedError',
      'isStoreFullError',
      'isStoreUnavailableError',
      'isThrottledError',
      'isTimeoutError',
      'isTransient',
      'parseRetryAfter',
      'retryAfterMs',
      'statusOf',
    ],
  ],
  events: ['onListenerError'],
  fallback: ['FALLBACK_DEFAULTS', 'FallbackPolicy', 'fallback'],
  health: [
    ...['BULKHEAD_CHECK_DEFAULTS', 'HEALTH_DEFAULTS', 'HEALTH_JSON_CONTENT_TYPE', 'HealthRegistry', 'breakerCheck'],
    ...['bulkheadCheck', 'functionCheck', 'health', 'healthCacheControl', 'healthHttpStatus', 'healthResponse'],
    ...['toHealthJson'],
  ],
  hedging: ['HEDGE_DEFAULTS', 'HedgeLostError', 'HedgePolicy', 'hedge'],
  http: [
    ...['HTTP_DEFAULTS', 'IDEMPOTENCY_HEADERS', 'PROBLEM_JSON_CONTENT_TYPE', 'PROBLEM_TITLES', 'PROBLEM_TYPES'],
    ...['REPLAYED_HEADERS', 'canonicalJson', 'clientIpKey', 'correlationIds', 'errorResponse', 'fingerprintInput'],
    ...['httpErrorStatus', 'idempotencyKeyParser', 'idempotencyKeyProblem', 'mergeRateLimitFields'],
    ...['onHttpDecision', 'payloadTooLargeResponse'],
    ...['proxyTrustWarning', 'rateLimitResponder', 'replayRecord', 'replayResponse', 'shouldRecordResponse'],
  ],
  idempotency: ['IDEMPOTENCY_DEFAULTS', 'Idempotency', 'ReplayedError', 'idempotency', 'unrecorded'],
  logging: ['LOG_EVENTS_DEFAULTS', 'eventLogger', 'logEvents'],
  messages: ['MESSAGE_PROCESSOR_DEFAULTS', 'MessageProcessor', 'messageProcessor'],
  metrics: [
    ...['ADAPTIVE_LATENCY_DEFAULTS', 'LATENCY_QUANTILE_DEFAULTS', 'LatencySketch', 'METRICS_DEFAULTS'],
    ...['MetricsCollector', 'SLA_DEFAULTS', 'latencyQuantile', 'metrics', 'observe', 'slaReport'],
    ...['RECENT_ERRORS_DEFAULTS', 'RecentErrors', 'recentErrors'],
  ],
  pipeline: ['PIPELINE_DEFAULTS', 'Pipeline', 'pipeline'],
  policy: ['PolicyBase'],
  ratelimit: [
    ...['OPERATION_LIMITS_PER_MINUTE', 'RATE_LIMITER_DEFAULTS', 'RATE_LIMIT_GROUP_DEFAULTS', 'RateLimitGroup'],
    ...['RateLimiter', 'TOKEN_BUCKET_DEFAULTS', 'defaultOperationLimits', 'fixedWindow', 'gcra', 'rateLimitGroup'],
    ...['quotaPresets', 'rateLimiter', 'slidingWindow', 'tokenBucket'],
  ],
  retry: [
    'EXPONENTIAL_DEFAULTS',
    'RETRY_BUDGET_DEFAULTS',
    'RETRY_DEFAULTS',
    'RetryBudget',
    'RetryPolicy',
    'backoff',
    'retry',
    'retryPresets',
  ],
  saga: ['SAGA_DEFAULTS', 'Saga', 'saga'],
  store: ['MEMORY_STORE_DEFAULTS', 'MemoryStore', 'isStore', 'memoryStore', 'storeKey', 'storeNamespace'],
  throttle: ['AdaptiveThrottlePolicy', 'THROTTLE_DEFAULTS', 'adaptiveThrottle', 'throttleTransition'],
  timeout: ['TIMEOUT_DEFAULTS', 'TimeoutPolicy', 'timeout'],
  transaction: [
    'TRANSACTIONS_DEFAULTS',
    'TransactionError',
    'Transactions',
    'isTransactionError',
    'transactional',
    'transactions',
  ],
};

const sorted = (names: Iterable<string>) => [...names].sort();

it('@resilience/core exports exactly the public API, and nothing internal', () => {
  expect(sorted(Object.keys(core))).toEqual(sorted(Object.values(PUBLIC).flat()));
});

it('@resilience/core/testing exports the test helpers', () => {
  expect(sorted(Object.keys(testing))).toEqual([
    'FakeClock',
    'faultInjector',
    'jsonRoundTripStore',
    'runStoreConformance',
    'seededRandom',
    'sequenceRandom',
    'storeConformanceScenarios',
  ]);
});

it('@resilience/core/internal exports only what the packages of this repository need from core', () => {
  expect(sorted(Object.keys(internal))).toEqual([
    'DeadlineQueue',
    'Emitter',
    'OptionsValidator',
    'RATE_LIMIT_FIELDS',
    'ReportGate',
    'checkHealthJson',
    'checkNested',
    'emitHttpDecision',
    'eventSources',
    'followAbort',
    'followerCount',
    'hideUrlSecrets',
    'isPlainObject',
    'isUnrecorded',
    'messageOf',
    'processWide',
    'refuseSignal',
    'unfollowAbort',
    'unrecordedValue',
  ]);
});
