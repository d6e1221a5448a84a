export { type ClientIpKeyOptions, clientIpKey } from './client-ip.js';
export { type CorrelationHeaders, type CorrelationIdSource, correlationIds } from './correlation.js';
export { type HttpDecision, type HttpDecisionKind, onHttpDecision } from './decisions.js';
export { type ErrorResponseOptions, errorResponse, type HttpErrorStatus, httpErrorStatus } from './error-response.js';
export { canonicalJson, type FingerprintRequest, fingerprintInput } from './fingerprint.js';
export {
  type IdempotencyKeyFailure,
  type IdempotencyKeyFailureReason,
  type IdempotencyKeyParser,
  type IdempotencyKeyResult,
  idempotencyKeyParser,
  idempotencyKeyProblem,
} from './idempotency-key.js';
export {
  type CorrelationIdOptions,
  HTTP_DEFAULTS,
  type IdempotencyKeyOptions,
  type RateLimitHeadersMode,
  type RateLimitResponderOptions,
} from './options.js';
export {
  PROBLEM_JSON_CONTENT_TYPE,
  PROBLEM_TITLES,
  PROBLEM_TYPES,
  type ProblemContext,
  type ProblemDetails,
  type ProblemKind,
  type ProblemResponse,
} from './problem.js';
export { type ProxyTrust, type ProxyTrustInput, proxyTrustWarning } from './proxy-trust.js';
export {
  type DraftFields,
  mergeRateLimitFields,
  type RateLimitResponder,
  type RateLimitResponse,
  type RateLimitSource,
  rateLimitResponder,
} from './ratelimit-headers.js';
export {
  IDEMPOTENCY_HEADERS,
  payloadTooLargeResponse,
  REPLAYED_HEADERS,
  type RecordedResponse,
  type ReplayRecord,
  replayRecord,
  replayResponse,
  shouldRecordResponse,
} from './replay.js';
