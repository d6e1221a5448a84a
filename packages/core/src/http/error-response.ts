import { asBag, unknownKey } from '../errors/bag.js';
import { classifyByName as classify, type ErrorCategory } from '../errors/classify.js';
import { isResilienceError } from '../errors/errors.js';
import { httpDateMs } from '../errors/retry-after.js';
import { type OptionNames, OptionsValidator } from '../errors/validate.js';
import { HTTP_DEFAULTS } from './options.js';
import {
  PROBLEM_TITLES,
  PROBLEM_TYPES,
  type ProblemContext,
  type ProblemKind,
  type ProblemResponse,
  problemResponse,
} from './problem.js';

/** How a server answers an error: its status, category and problem type, and a known retry time. */
export interface HttpErrorStatus {
  readonly status: number;
  readonly category: ErrorCategory;
  /** The problem kind, a key of `PROBLEM_TYPES`. */
  readonly kind: ProblemKind;
  /** The problem `type` URI. */
  readonly type: string;
  readonly title: string;
  /** The toolkit's own error code, for the body's `code`. */
  readonly code?: string;
  /** When a retry may succeed, in ms, when the error knows it: a `Retry-After`. */
  readonly retryAfterMs?: number;
}

type Bag = Record<string, unknown>;

/** The toolkit's own codes: status, category and problem kind. `store_unavailable` is a store that could not answer. */
const OWN: Readonly<Record<string, readonly [number, ErrorCategory, ProblemKind]>> = {
  circuit_open: [503, 'dependency', 'dependency'],
  circuit_isolated: [503, 'dependency', 'dependency'],
  rate_limited: [429, 'rate_limit', 'quota_exceeded'],
  bulkhead_full: [503, 'dependency', 'temporary_reduced_capacity'],
  request_timeout: [503, 'timeout', 'timeout'],
  timeout: [504, 'timeout', 'timeout'],
  store_unavailable: [503, 'dependency', 'dependency'],
  store_full: [503, 'dependency', 'dependency'],
  in_flight: [409, 'invalid_state', 'idempotency_key_in_use'],
  fingerprint_mismatch: [422, 'validation', 'idempotency_key_reused'],
  invalid_options: [500, 'configuration', 'configuration'],
  saga_misuse: [500, 'configuration', 'configuration'],
};

/** The status of each category, for errors that set none of their own. */
const BY_CATEGORY: Readonly<Record<ErrorCategory, number>> = {
  timeout: 504,
  network: 502,
  dependency: 502,
  auth: 401,
  validation: 400,
  rate_limit: 429,
  invalid_state: 409,
  cancelled: 499,
  configuration: 500,
  unknown: 500,
};

const KIND_OF: Readonly<Record<ErrorCategory, ProblemKind>> = {
  timeout: 'timeout',
  network: 'network',
  dependency: 'dependency',
  auth: 'auth',
  validation: 'validation',
  rate_limit: 'quota_exceeded',
  invalid_state: 'invalid_state',
  cancelled: 'cancelled',
  configuration: 'configuration',
  unknown: 'unknown',
};

/** Statuses with a problem type of their own. */
const OWN_STATUS_KIND: Readonly<Record<number, ProblemKind>> = {
  404: 'not_found',
  413: 'payload_too_large',
  429: 'quota_exceeded',
};

const status = (kind: ProblemKind, code: number, category: ErrorCategory, extra: Partial<HttpErrorStatus> = {}) =>
  ({
    status: code,
    category,
    kind,
    type: PROBLEM_TYPES[kind],
    title: PROBLEM_TITLES[kind],
    ...extra,
  }) as HttpErrorStatus;

// Built by a call marked pure, so a bundle that never answers an error drops it.
const INTERNAL = /* @__PURE__ */ status('unknown', 500, 'unknown');

/** A status the error sets on itself (`status` or `statusCode`, as http-errors and most SDKs do): 400–599 only. */
function ownStatus(e: Bag): number | undefined {
  for (const v of [e.status, e.statusCode]) {
    if (typeof v === 'number' && Number.isInteger(v) && v >= 400 && v <= 599) return v;
  }
  return undefined;
}

// Whether the error carries an upstream's answer: a `response` with a status (axios, got,
// superagent), axios' copy of that status on the error itself (axios ≥ 1.7), or the AWS SDK's
// `$metadata`. That says how a provider answered this server, not how it answers its client.
function upstreamAnswer(e: Bag): boolean {
  const response = asBag(e.response);
  return (
    typeof response?.status === 'number' ||
    typeof response?.statusCode === 'number' ||
    (e.isAxiosError === true && typeof e.status === 'number') ||
    asBag(e.$metadata) !== undefined ||
    e.code === 'UND_ERR_RESPONSE_STATUS_CODE' // undici's: the status on the error itself
  );
}

function assess(error: unknown, depth: number): HttpErrorStatus {
  if (typeof error !== 'object' || error === null) return INTERNAL;
  const e = error as Bag;
  if (isResilienceError(error)) {
    // Wrappers answer as what they wrap (retries exhausted on timeouts are a 504).
    if ((error.code === 'retry_exhausted' || error.code === 'transaction_failed') && depth < 5) {
      return assess(error.cause, depth + 1);
    }
    const own = OWN[error.code];
    if (own !== undefined) {
      const [code, category, kind] = own;
      const wait = e.retryAfterMs;
      const retryAfterMs = typeof wait === 'number' && wait >= 0 && wait < Number.POSITIVE_INFINITY ? wait : undefined;
      return status(
        kind,
        code,
        category,
        retryAfterMs === undefined ? { code: error.code } : { code: error.code, retryAfterMs },
      );
    }
  }
  const name = typeof e.name === 'string' ? e.name : '';
  const category = classify(error);
  // classify counts these as validation (a library refusing bad input); thrown out of a
  // request handler without a status, they are bugs: 500. Not fetch's `TypeError: fetch
  // failed`, classified by its cause (a refused or timed-out connection, an answer that is no
  // HTTP): an upstream that failed, 502 or 504.
  if (/^(Type|Range|Reference)Error$/.test(name) && !/^(network|timeout|dependency)$/.test(category)) {
    return ownStatus(e) === undefined ? INTERNAL : byOwnStatus(e, category);
  }
  // A provider's 401 or 429 is about this server's credentials or quota: 502, whatever it was.
  if (upstreamAnswer(e)) return status('dependency', 502, category);
  if (ownStatus(e) !== undefined) return byOwnStatus(e, category);
  // One wrapping an upstream's answer (`new Error('charge failed', { cause })`) says the same.
  for (let c = asBag(e.cause), i = 0; c && i < 5; c = asBag(c.cause), i++) {
    if (upstreamAnswer(c)) return status('dependency', 502, category);
  }
  // An auth error with a `code` (a driver's SQLSTATE, a gRPC status) is about this server's
  // credentials with a dependency: 502, as an upstream's 401 is. So is any quota error but the
  // toolkit's own (a code, a cause, a name): this server limits with RateLimitExceededError.
  // The category is read without the message, which may quote the client ('user input: forbidden').
  if (category === 'rate_limit' || (category === 'auth' && e.code !== undefined)) {
    return status('dependency', 502, category);
  }
  if (category === 'validation' && (/ValidationError|ZodError/.test(name) || Array.isArray(e.issues))) {
    return status('validation', 422, category); // a body that parses but breaks the schema
  }
  return status(KIND_OF[category], BY_CATEGORY[category], category);
}

function byOwnStatus(e: Bag, category: ErrorCategory): HttpErrorStatus {
  const code = ownStatus(e) as number;
  // classify reads a 500 as an upstream's failure; set by this server, it is its own.
  if (code === 500) return status('unknown', 500, 'unknown');
  const kind = OWN_STATUS_KIND[code] ?? KIND_OF[category];
  return status(kind, code, category);
}

// In order: the toolkit's own errors by code (an open breaker 503 with its retryAfterMs, an
// isolated one none; rate limit 429; full bulkhead or shedder 503, problem type
// temporary-reduced-capacity; request timeout 503; upstream TimeoutError 504;
// store_unavailable and store_full 503; idempotency key in flight 409, reused with another
// payload 422; misconfiguration 500; retries exhausted as their last error); then a status
// the error sets on itself (status / statusCode 400-599; an upstream's response.status is
// not one: any upstream answer, or an error wrapping one as its `cause`, is 502; a plain { status: 404 } works too); otherwise by
// category, read without the message: validation 400 (422 for a schema error), auth 401 (502 with a `code`: a
// dependency's), invalid state 409, rate limit 502 (a provider's quota: the toolkit's own is
// 429), upstream timeout 504, network and dependency 502, cancelled 499, configuration and unknown 500. A TypeError, RangeError or ReferenceError without a
// status is a bug: 500.
/** How a server answers an error (docs/http.md); never throws. */
export function httpErrorStatus(error: unknown): HttpErrorStatus {
  try {
    return assess(error, 0);
  } catch {
    return INTERNAL; // an error whose getters or proxy traps throw
  }
}

/** Options of {@link errorResponse}. */
export interface ErrorResponseOptions extends ProblemContext {
  /** Show the error's message (`detail`) and `stack`; never in production. @default false */
  readonly expose?: boolean;
  /** The `WWW-Authenticate` of a 401 whose error has none in `headers`. @default 'Bearer' */
  readonly challenge?: string;
}

const ERROR_RESPONSE_NAMES = {
  correlationId: true,
  expose: true,
  challenge: true,
} as const satisfies OptionNames<ErrorResponseOptions>;

/**
 * The headers of an error's own (`headers`, as http-errors sets them) a problem response
 * repeats: those telling the client what is allowed, how to authenticate, when to retry
 * and that the connection closes (`close` only). Others (cookies, an upstream's ids) are not the client's.
 */
const ERROR_HEADERS: ReadonlySet<string> = new Set([
  'allow',
  'retry-after',
  'www-authenticate',
  'proxy-authenticate',
  'accept',
  'accept-encoding',
  'accept-patch',
  'accept-post',
  'accept-ranges',
  'content-range',
  'connection',
]);
/** A value a header can carry: no control character but tab (RFC 9110 §5.5). */
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** The error's own headers among {@link ERROR_HEADERS}, lower-case names, values as text. */
function ownHeaders(error: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  try {
    const headers = (error as Bag | null)?.headers;
    // An upstream's headers (its WWW-Authenticate, its Retry-After) are not this server's.
    if (typeof headers !== 'object' || headers === null || upstreamAnswer(error as Bag)) return out;
    for (const [name, value] of Object.entries(headers)) {
      const lower = name.toLowerCase();
      const text = typeof value === 'string' || typeof value === 'number' ? String(value) : '';
      // Only what RFC 9110 lets a sender write: close; delay-seconds or an IMF-fixdate that exists.
      const fits =
        lower === 'connection'
          ? /^close$/i.test(text)
          : lower !== 'retry-after' || /^\d{1,15}$/.test(text) || httpDateMs(text, 0, true) !== undefined;
      if (ERROR_HEADERS.has(lower) && text !== '' && FIELD_VALUE.test(text) && fits) out[lower] = text;
    }
  } catch {
    // headers that cannot be read bring none
  }
  return out;
}

/** An error that says its message is for the client (http-errors' `expose`, true for a 4xx by default). */
function exposedMessage(error: unknown, status: number): string | undefined {
  try {
    const e = error as Bag | null;
    return status < 500 && e?.expose === true && typeof e.message === 'string' ? e.message : undefined;
  } catch {
    return undefined;
  }
}

/** The problem+json response for an error; no message or stack unless `expose`. The mapping: docs/http.md. */
export function errorResponse(error: unknown, options: ErrorResponseOptions = {}): ProblemResponse {
  if (unknownKey(options, ERROR_RESPONSE_NAMES) !== undefined) {
    const v = new OptionsValidator('errorResponse');
    v.known(options, ERROR_RESPONSE_NAMES);
    v.done();
  }
  const s = httpErrorStatus(error);
  const extra: { code?: string; detail?: string; stack?: string } = {};
  if (s.code !== undefined) extra.code = s.code;
  const told = exposedMessage(error, s.status);
  if (told !== undefined) extra.detail = told;
  if (options.expose === true) {
    try {
      const e = error as Bag | null;
      extra.detail = typeof e?.message === 'string' ? e.message : String(error);
      if (typeof e?.stack === 'string') extra.stack = e.stack;
    } catch {
      // nothing more to show
    }
  }
  const problem = problemResponse(s.kind, s.status, s.category, options, extra, s.retryAfterMs);
  const own = ownHeaders(error);
  for (const name of Object.keys(own)) problem.headers[name] ??= own[name]!;
  if (s.status === 401) problem.headers['www-authenticate'] ??= options.challenge ?? HTTP_DEFAULTS.challenge;
  return problem;
}
