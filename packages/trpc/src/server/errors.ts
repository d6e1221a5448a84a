// Errors answered as the HTTP adapters answer them (core's httpErrorStatus), in tRPC's terms:
// an error code, its HTTP status, and the Retry-After and RateLimit fields of the response.
import { errorResponse, httpErrorStatus, isRateLimitExceededError, isRequestTimeoutError } from '@resilience/core';
import { OptionsValidator } from '@resilience/core/internal';
import { type TRPC_ERROR_CODE_KEY, type TRPCDefaultErrorShape, TRPCError } from '@trpc/server';
import { TRPC_ERROR_CODES_BY_KEY } from '@trpc/server/rpc';

/**
 * Each tRPC code's HTTP status, as tRPC maps it (its own table is in `@trpc/server/http`, which
 * this entry does not load: a tRPC server on another adapter need not). Typed as a record of
 * every code, so a code tRPC adds fails the build instead of answering 500.
 */
const STATUS_BY_CODE: Readonly<Record<TRPC_ERROR_CODE_KEY, number>> = {
  PARSE_ERROR: 400,
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  PAYMENT_REQUIRED: 402,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  METHOD_NOT_SUPPORTED: 405,
  TIMEOUT: 408,
  CONFLICT: 409,
  PRECONDITION_FAILED: 412,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  UNPROCESSABLE_CONTENT: 422,
  PRECONDITION_REQUIRED: 428,
  TOO_MANY_REQUESTS: 429,
  CLIENT_CLOSED_REQUEST: 499,
  INTERNAL_SERVER_ERROR: 500,
  NOT_IMPLEMENTED: 501,
  BAD_GATEWAY: 502,
  SERVICE_UNAVAILABLE: 503,
  GATEWAY_TIMEOUT: 504,
};

/** The code for an error that brings only a status: the inverse (400 is BAD_REQUEST, not PARSE_ERROR). */
const CODE_BY_STATUS: Readonly<Record<number, TRPC_ERROR_CODE_KEY>> = Object.fromEntries(
  Object.entries(STATUS_BY_CODE)
    .filter(([code]) => code !== 'PARSE_ERROR')
    .map(([code, status]) => [status, code as TRPC_ERROR_CODE_KEY]),
);

/** How an error is answered: its tRPC code, HTTP status, and when a retry may succeed. */
export interface ErrorAnswer {
  readonly code: TRPC_ERROR_CODE_KEY;
  readonly httpStatus: number;
  readonly retryAfterMs?: number;
  readonly idempotencyKeyInUse?: true;
}

/**
 * The answer to a procedure's error: a `TRPCError` thrown on purpose keeps its code; anything
 * else is answered as the HTTP adapters answer it, with its cause's retry time.
 */
export function errorAnswer(error: TRPCError): ErrorAnswer {
  const cause = error.cause;
  const wrapped = error.code === 'INTERNAL_SERVER_ERROR' && cause !== undefined && !(cause instanceof TRPCError);
  const s = cause === undefined ? undefined : httpErrorStatus(cause);
  const code = wrapped ? (CODE_BY_STATUS[s!.status] ?? (s!.status < 500 ? 'BAD_REQUEST' : error.code)) : error.code;
  const retryAfterMs = s?.retryAfterMs;
  return {
    code,
    httpStatus: STATUS_BY_CODE[code],
    ...(retryAfterMs !== undefined && { retryAfterMs }),
    ...(code === 'CONFLICT' && s?.code === 'in_flight' && { idempotencyKeyInUse: true }),
  };
}

/** What `errorFormatter` adds to the shape's `data`. */
export interface ResilienceErrorData {
  /** When a retry may succeed, in ms (a rate limit's wait, an open breaker's next probe). */
  retryAfterMs?: number;
  /** A `CONFLICT`: the key's first call still runs (`retryLink` retries this 409 only). */
  idempotencyKeyInUse?: true;
}

type FormatterOptions = { error: TRPCError; shape: TRPCDefaultErrorShape };
type Shape = TRPCDefaultErrorShape & { data: TRPCDefaultErrorShape['data'] & ResilienceErrorData };

/**
 * An `errorFormatter` for `initTRPC.create()`: the shape's `code`, `data.code` and
 * `data.httpStatus` as `errorAnswer` says, `data.retryAfterMs` and `data.idempotencyKeyInUse`
 * (read by `retryLink`).
 * Give it your own formatter to shape the result further.
 *
 * @example
 * const t = initTRPC.context<Context>().create({ errorFormatter: errorFormatter() });
 */
export function errorFormatter(): (opts: FormatterOptions) => Shape;
export function errorFormatter<O extends FormatterOptions, T>(
  format: (opts: O & { shape: Shape }) => T,
): (opts: O) => T;
export function errorFormatter(format?: (opts: FormatterOptions & { shape: Shape }) => unknown) {
  ownFunction('errorFormatter', 'format', format);
  return (opts: FormatterOptions) => {
    const answer = errorAnswer(opts.error);
    const { shape } = opts;
    const data: Shape['data'] = { ...shape.data, code: answer.code, httpStatus: answer.httpStatus };
    if (answer.retryAfterMs !== undefined) data.retryAfterMs = answer.retryAfterMs;
    if (answer.idempotencyKeyInUse) data.idempotencyKeyInUse = true;
    const formatted: Shape = { ...shape, code: TRPC_ERROR_CODES_BY_KEY[answer.code], data };
    return format === undefined ? formatted : format({ ...opts, shape: formatted });
  };
}

/**
 * Refuses a function of your own that is none, and this helper handed to tRPC uncalled
 * (`errorFormatter: errorFormatter`), which tRPC's call would give its options as `format`:
 * every error's shape a function (`{}` to the client), every `responseMeta` without headers.
 * An async one too: tRPC reads both answers at once, so its promise was the shape (`{}`, a 500
 * the client could not read) or a meta without your headers.
 */
const ownFunction = (subject: string, option: string, value: unknown): void =>
  new OptionsValidator(subject).predicate(option, value).done();

/** The fields an error's cause may set on the response: the rate-limit draft's and Retry-After. */
const FORWARDED = /^ratelimit(-policy)?$|^(x-)?ratelimit-(limit|remaining|reset)$/;
/** The draft's fields are lists of items, one per policy; the older fields hold one limit's number. */
const LISTS = /^ratelimit(-policy)?$/;
/** A list's items: a policy's name, a quoted string (core's names are printable ASCII), then its parameters. */
const ITEM = /"(?:[^"\\]|\\.)*"[^,]*/g;
const NAME = /^"(?:[^"\\]|\\.)*"/;

/**
 * The limiter that refused, by its refusal (`rateLimitMiddleware`'s cause), and what to call when
 * another limiter of its name refused a call of the same response.
 */
export const refusedBy = new WeakMap<object, { readonly limiter: object; shared(): void }>();

type HeaderDict = Record<string, string | string[] | undefined>;
type Meta = { status?: number; headers?: Headers | HeaderDict };

/**
 * Retry-After and the RateLimit fields for a response's errors (what `responseMeta` sets): each
 * policy listed once, with its longest wait, and the older fields of the longest wait's refusal.
 * `Retry-After`, the longest wait, only when each of the response's `calls` (a batch's) failed with one.
 */
export function errorHeaders(
  errors: readonly TRPCError[],
  calls: number = errors.length,
): Record<string, string> | undefined {
  const fields: { wait: number; own: Record<string, unknown>; by: ReturnType<typeof refusedBy.get> }[] = [];
  let wait = -1;
  let waits = 0;
  for (const error of errors) {
    if (error.cause === undefined) continue;
    const after = errorResponse(error.cause).headers['retry-after'];
    if (after !== undefined) {
      wait = Math.max(wait, Number(after));
      waits++;
    }
    // A refusal's own fields (rateLimitMiddleware's); an upstream's error (undici's) brings its quota, not the caller's.
    const { cause } = error;
    if (!isRateLimitExceededError(cause)) continue;
    const own = (cause as { headers?: unknown }).headers;
    if (typeof own !== 'object' || own === null) continue;
    const ms = cause.retryAfterMs;
    fields.push({ wait: Number.isFinite(ms) ? ms : 0, own: own as Record<string, unknown>, by: refusedBy.get(cause) });
  }
  let headers: Record<string, string> | undefined;
  // Each policy's limiter: two limiters of one name (both left unnamed) are both listed, as the
  // HTTP adapters list them, and told to take names of their own.
  const listed = new Map<string, Set<object | undefined>>();
  // The longest wait speaks first (a stable sort keeps the batch's order between equals).
  for (const { own, by } of fields.sort((a, b) => b.wait - a.wait)) {
    for (const [name, value] of Object.entries(own)) {
      if (typeof value !== 'string' || !FORWARDED.test(name)) continue;
      headers ??= {};
      if (!LISTS.test(name)) {
        headers[name] ??= value;
        continue;
      }
      for (const item of value.match(ITEM) ?? []) {
        const policy = `${name} ${NAME.exec(item)![0]}`;
        const limiters = listed.get(policy);
        if (limiters?.has(by?.limiter)) continue;
        if (limiters === undefined) listed.set(policy, new Set([by?.limiter]));
        else {
          limiters.add(by?.limiter);
          by?.shared();
        }
        const seen = headers[name];
        headers[name] = seen === undefined ? item.trim() : `${seen}, ${item.trim()}`;
      }
    }
  }
  if (waits === 0 || waits < calls) return headers;
  return { ...headers, 'retry-after': String(wait) };
}

/**
 * A `responseMeta` for tRPC's HTTP adapters: `Retry-After` and a refusal's `RateLimit` fields,
 * and a `timeoutMiddleware` timeout (every call's, in a batch) as 503, not tRPC's 408. Give it
 * your own `responseMeta` to add to.
 *
 * @example
 * createHTTPServer({ router, createContext, responseMeta: responseMeta() });
 */
export function responseMeta<O extends { errors: readonly TRPCError[]; paths?: readonly string[] | undefined }>(
  own?: (opts: O) => Meta,
): (opts: O) => Meta {
  ownFunction('responseMeta', 'own', own);
  return (opts) => {
    let meta = own?.(opts) ?? {};
    // A request timeout is 503, as the HTTP adapters answer it: a browser sends a request
    // answered 408 on a reused connection again by itself (a mutation run twice). tRPC gives a
    // batch whose calls all timed out their shared 408; one with other outcomes, 207.
    const { errors } = opts;
    if (
      meta.status === undefined &&
      errors.length > 0 &&
      errors.length >= (opts.paths?.length ?? 1) &&
      errors.every((e) => isRequestTimeoutError(e.cause))
    ) {
      meta = { ...meta, status: 503 };
    }
    const headers = errorHeaders(opts.errors, opts.paths?.length);
    if (headers === undefined) return meta;
    if (meta.headers instanceof Headers) {
      const merged = new Headers(meta.headers);
      for (const [name, value] of Object.entries(headers)) merged.set(name, value);
      return { ...meta, headers: merged };
    }
    return { ...meta, headers: { ...meta.headers, ...headers } };
  };
}
