import type { ErrorCategory } from '../errors/classify.js';

/** The media type of RFC 9457 problem details. */
export const PROBLEM_JSON_CONTENT_TYPE = 'application/problem+json';

// Written out in full: a template literal would keep this object in every bundle.
/**
 * The `type` URI of every problem the HTTP helpers answer with: IANA's for quotas and
 * shedding, one per error category otherwise (docs/http.md).
 */
export const PROBLEM_TYPES = {
  quota_exceeded: 'https://iana.org/assignments/http-problem-types#quota-exceeded',
  temporary_reduced_capacity: 'https://iana.org/assignments/http-problem-types#temporary-reduced-capacity',
  timeout: 'https://github.com/resilience-js/resilience/blob/main/docs/http.md#problem-timeout',
  network: 'https://github.com/resilience-js/resilience/blob/main/docs/http.md#problem-network',
  auth: 'https://github.com/resilience-js/resilience/blob/main/docs/http.md#problem-auth',
  validation: 'https://github.com/resilience-js/resilience/blob/main/docs/http.md#problem-validation',
  invalid_state: 'https://github.com/resilience-js/resilience/blob/main/docs/http.md#problem-invalid-state',
  cancelled: 'https://github.com/resilience-js/resilience/blob/main/docs/http.md#problem-cancelled',
  configuration: 'https://github.com/resilience-js/resilience/blob/main/docs/http.md#problem-configuration',
  dependency: 'https://github.com/resilience-js/resilience/blob/main/docs/http.md#problem-dependency',
  unknown: 'https://github.com/resilience-js/resilience/blob/main/docs/http.md#problem-unknown',
  idempotency_key_missing:
    'https://github.com/resilience-js/resilience/blob/main/docs/http.md#problem-idempotency-key-missing',
  idempotency_key_invalid:
    'https://github.com/resilience-js/resilience/blob/main/docs/http.md#problem-idempotency-key-invalid',
  idempotency_key_in_use:
    'https://github.com/resilience-js/resilience/blob/main/docs/http.md#problem-idempotency-key-in-use',
  idempotency_key_reused:
    'https://github.com/resilience-js/resilience/blob/main/docs/http.md#problem-idempotency-key-reused',
  payload_too_large: 'https://github.com/resilience-js/resilience/blob/main/docs/http.md#problem-payload-too-large',
  not_found: 'https://github.com/resilience-js/resilience/blob/main/docs/http.md#problem-not-found',
} as const;

/** A problem kind: a key of {@link PROBLEM_TYPES}. */
export type ProblemKind = keyof typeof PROBLEM_TYPES;

/** Each problem type's title: stable, the same for every occurrence (RFC 9457 §3.1.3). */
export const PROBLEM_TITLES: Readonly<Record<ProblemKind, string>> = {
  quota_exceeded: 'Quota exceeded',
  temporary_reduced_capacity: 'Temporary reduced capacity',
  timeout: 'Timeout',
  network: 'Upstream unreachable',
  auth: 'Not authorized',
  validation: 'Invalid request',
  invalid_state: 'Conflict',
  cancelled: 'Request cancelled',
  configuration: 'Server misconfigured',
  dependency: 'Upstream unavailable',
  unknown: 'Internal server error',
  idempotency_key_missing: 'Idempotency-Key required',
  idempotency_key_invalid: 'Invalid Idempotency-Key',
  idempotency_key_in_use: 'Request in progress',
  idempotency_key_reused: 'Idempotency-Key reused',
  payload_too_large: 'Payload too large',
  not_found: 'Not found',
};

/**
 * An `application/problem+json` body (RFC 9457) with this toolkit's extension members:
 * `category` (one of `classify`'s), `code` (the toolkit's own error code), `correlationId`,
 * and `violated-policies` (draft-ietf-httpapi-ratelimit-headers).
 */
export interface ProblemDetails {
  type: string;
  title: string;
  status: number;
  /** What happened this time, for humans: only what is safe to show (see `expose`). */
  detail?: string;
  category: ErrorCategory;
  code?: string;
  correlationId?: string;
  'violated-policies'?: string[];
  /** The error's stack: only with `expose`. */
  stack?: string;
}

/** Everything an adapter sends for a problem: status, headers (lower-case names) and body. */
export interface ProblemResponse {
  status: number;
  headers: Record<string, string>;
  body: ProblemDetails;
}

/** What every problem response may carry beyond its type. */
export interface ProblemContext {
  /** Echoed as `correlationId` in the body and as the `X-Request-Id` header. */
  readonly correlationId?: string;
}

/** `Retry-After` for a wait in ms: whole seconds, rounded up (RFC 9110 delay-seconds). */
export const retryAfterSeconds = (ms: number): number =>
  Math.min(999_999_999_999_999, Math.max(0, Math.ceil(ms / 1_000))); // 15 digits at most, never `1e+22`

/** A problem response of `kind` with `status`; `extra` members go after `category`. */
export function problemResponse(
  kind: ProblemKind,
  status: number,
  category: ErrorCategory,
  context: ProblemContext,
  extra: Partial<ProblemDetails> = {},
  retryAfterMs?: number,
): ProblemResponse {
  const headers: Record<string, string> = { 'content-type': PROBLEM_JSON_CONTENT_TYPE };
  if (retryAfterMs !== undefined) headers['retry-after'] = String(retryAfterSeconds(retryAfterMs));
  const body: ProblemDetails = { type: PROBLEM_TYPES[kind], title: PROBLEM_TITLES[kind], status, category, ...extra };
  const id = context.correlationId;
  if (id !== undefined) {
    body.correlationId = id;
    headers['x-request-id'] = id;
  }
  return { status, headers, body };
}
