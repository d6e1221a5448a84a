import {
  type ClientAttempt,
  type ClientOptions,
  HttpStatusError,
  IDEMPOTENCY_KEY_HEADER,
  isRetryableFailure,
  type ResilientClient,
  resilientClient,
} from '@resilience/core';
import { checkNested, isPlainObject, OptionsValidator, refuseSignal } from '@resilience/core/internal';
import { bodySignal } from './body-signal.js';
import { headerOf, isReplayableCall, isRequestLike, isWebStream, type RequestLike, Spare } from './request.js';

/** A request as `idempotent` and `key` receive it: fetch's arguments, with the method and URL read out. */
export interface FetchRequest {
  readonly input: unknown;
  readonly init: RequestInit | undefined;
  /** Upper-case, as `fetch` sends it. */
  readonly method: string;
  readonly url: string;
}

/** The options of `withResilience`: the same as `@resilience/axios`, each the options of a core factory. */
export type ResilientFetchOptions = ClientOptions<FetchRequest>;

// biome-ignore lint/suspicious/noExplicitAny: the signature of any fetch-compatible function is kept as it is.
export type FetchLike = (input: any, init?: any) => Promise<any>;

/** `fetch`'s exact signature, plus the client that holds the per-host policies. */
export type ResilientFetch<F extends FetchLike = typeof fetch> = F & {
  readonly client: ResilientClient<FetchRequest, Awaited<ReturnType<F>>>;
};

/** Marks a fetch `withResilience` returned, seen by another copy of this package too. */
const WRAPS = Symbol.for('@resilience/fetch.wraps');

/** The client's options that are objects of options: p-retry's habit puts a `signal` there too, which fetch takes per request. */
const SECTIONS = ['retry', 'breaker', 'throttle', 'rateLimit', 'timeout', 'metrics'];

/** Defaults of `withResilience` beyond the client's (`CLIENT_DEFAULTS`). */
export const FETCH_DEFAULTS = { name: 'fetch' } as const;

const transport = {
  status: (response: Response) => response.status,
  headers: (response: Response) => response.headers,
  // A response that is retried is released, so its connection is freed before the wait: a
  // web stream is cancelled (undici then closes the connection), node-fetch's body, a Node
  // stream without `cancel`, destroyed with what is piped into it (`destroyPiped`).
  discard: (response: Response) => {
    const body = response.body as { cancel?: unknown; destroy?: unknown } | null;
    if (typeof body?.cancel === 'function') (body as ReadableStream).cancel().catch(() => {});
    else if (typeof body?.destroy === 'function') destroyPiped(body as unknown as NodeJS.ReadableStream);
  },
};

/**
 * Destroys a Node stream and, as each pipe into it unpipes (it tells its destination which
 * source it was, in `unpipe`), the streams piped into it, down to the response: node-fetch 2
 * pipes the response into the body it returns (`res.pipe()`, which a destroyed destination does
 * not destroy), so destroying the body alone left the socket open and, on a body that stalls,
 * held by a response nobody reads. Reading it out instead waits for ever on such a body.
 */
function destroyPiped(stream: NodeJS.ReadableStream): void {
  // A response received whole is read out instead: its socket goes back to the pool.
  if ((stream as { complete?: unknown }).complete === true) return void stream.resume();
  stream.once('unpipe', destroyPiped);
  (stream as unknown as { destroy(): void }).destroy();
}

/**
 * A function with `fetch`'s signature that retries what is safe to retry, honours
 * `Retry-After`, and keeps a breaker, a throttle, a rate limit and metrics per host, as
 * configured. A response with a retryable status is retried; the last one is returned as
 * a `Response`, never thrown. Plugs into SDKs that take a `fetch` (OpenAI, Anthropic).
 *
 * @example
 * const api = withResilience(fetch, { breaker: { strategy: consecutive(5) }, timeout: 10_000 });
 * const response = await api('https://api.example.com/v1/items');
 */
export function withResilience<F extends FetchLike = typeof fetch>(
  fetchFn: F,
  options: ResilientFetchOptions = {},
): ResilientFetch<F> {
  // The fetch function and the client's options, in one `withResilience` error (options that
  // are no plain object, whose spread below would drop or invent options, too).
  const v = new OptionsValidator('withResilience')
    .check(typeof fetchFn === 'function', 'fetch', fetchFn, 'a fetch function')
    // Wrapped twice, a request's attempts multiply (4 × 4) and each layer counts its own.
    .check(
      (fetchFn as { [WRAPS]?: unknown } | null)?.[WRAPS] !== true,
      'fetch',
      'a fetch withResilience returned',
      'a fetch withResilience does not wrap yet (wrap the original fetch once)',
    )
    .check(isPlainObject(options), 'options', options, 'an object of options');
  refuseSignal(v, options, 'nothing here (a signal cancels one request: fetch(url, { signal }))', ...SECTIONS);
  type R = Awaited<ReturnType<F>>;
  const client = checkNested(
    v,
    undefined,
    () =>
      resilientClient<FetchRequest, R>(
        {
          ...options,
          name: options.name === undefined ? FETCH_DEFAULTS.name : options.name,
          ...(options.retry !== false && { retry: guardedRetry(options.retry) }),
        },
        transport as unknown as Parameters<typeof resilientClient<FetchRequest, R>>[1],
      ),
    ['options'],
  )!;
  v.done();
  const resilient = (input: unknown, init?: RequestInit): Promise<R> => {
    try {
      const request = isRequestLike(input) ? input : undefined;
      const method = String(init?.method ?? request?.method ?? 'GET').toUpperCase(); // as fetch writes it
      const url = request?.url ?? String(input);
      const headers = init?.headers ?? request?.headers;
      // init's `signal: null`, as fetch reads it, lets go of the Request's signal.
      const signal = (init?.signal === undefined ? request?.signal : init.signal) ?? undefined;
      // A streamed body goes once, as given: a copy of its Request (a tee) would hold the upload for a retry.
      const replayable = isReplayableCall(request, init);
      // Only a Request whose own body is sent is copied: a body in init replaces it (fetch then
      // sends a Request already read, which `clone()` refuses). A web Request's body is kept,
      // up to KEPT_BYTES; a polyfill's Request (a Buffer or Node stream body) is cloned per attempt.
      const copied =
        replayable && request !== undefined && request.body !== null && init?.body == null ? request : undefined;
      const spare = copied !== undefined && isWebStream(copied.body) ? new Spare(copied) : undefined;
      const sent = client.request(
        {
          request: { input, init, method, url },
          method,
          url,
          header: (name) => headerOf(headers, name),
          signal,
          replayable,
        },
        (attempt) =>
          (spare === undefined
            ? send(fetchFn, copied === undefined ? input : copied.clone(), request, init, signal, attempt)
            : resend(fetchFn, input, request, spare, init, signal, attempt)) as Promise<R>,
      );
      // Settled, the request lets go of the copy: a body still being read (one that stalls) too.
      return spare === undefined ? sent : sent.finally(spare.stop);
    } catch (error) {
      return Promise.reject(error); // as fetch: an argument it cannot read rejects, never throws
    }
  };
  return Object.assign(resilient, { client, [WRAPS]: true }) as unknown as ResilientFetch<F>;
}

/**
 * One attempt of a `Request` whose body is kept in `spare`: the first sends the caller's
 * `Request` itself, as fetch does; a retry sends it again with the kept body in init (which
 * replaces the body fetch read), or, when it was not kept, fails saying so, sending nothing.
 */
function resend(
  fetchFn: FetchLike,
  input: unknown,
  request: RequestLike | undefined,
  spare: Spare,
  init: RequestInit | undefined,
  signal: AbortSignal | undefined,
  attempt: ClientAttempt,
): Promise<unknown> {
  if (attempt.attempt === 1) {
    return first(send(fetchFn, input, request, init, signal, attempt), spare, attempt);
  }
  // Not reached when the body was not kept (`unkept`): the failure before was the answer.
  return spare.kept.then((body) => {
    if (body instanceof TypeError) throw body;
    return send(fetchFn, input, request, { ...init, body }, signal, attempt);
  });
}

/**
 * The failures of first attempts whose `Request` body was not kept for a retry (over
 * KEPT_BYTES, unreadable, or not read to its end when the failure came): a retry could send
 * nothing, so none is tried, and the failure is the request's answer, as a streamed body's is.
 * Decided before a retry is waited for or admitted: nothing is spent on it (a rate-limit token,
 * a breaker's count, a throttle's).
 */
const unkept = new WeakSet<object>();

/** `retry.handle`, or the default, that never retries a failure in `unkept`. */
const unlessUnkept =
  (handle: (error: unknown) => boolean) =>
  (error: unknown): boolean =>
    !unkept.has((error instanceof HttpStatusError ? error.response : error) as object) && handle(error);

/**
 * The `retry` option with its `handle` guarded by `unlessUnkept`; one that is no object or
 * function, or an async one, goes as it is, to be named (`retry.handle`), as axios' is. Wrapped,
 * an async `handle` passed core's check, and its promise read as no: nothing was ever retried.
 */
function guardedRetry(retry: ResilientFetchOptions['retry']): NonNullable<ResilientFetchOptions['retry']> {
  if (retry === undefined) return { handle: unlessUnkept(isRetryableFailure) };
  const handle: unknown = isPlainObject(retry) ? retry.handle : undefined;
  if (
    !isPlainObject(retry) ||
    (handle !== undefined && (typeof handle !== 'function' || handle.constructor.name === 'AsyncFunction'))
  )
    return retry;
  return { ...retry, handle: unlessUnkept(retry.handle ?? isRetryableFailure) };
}

/**
 * The first attempt of a `Request` whose body is copied for a retry. A failure (an error, or
 * any error status: a `retry.handle` of the caller's may retry one) is judged with what is
 * known when it comes: the copy read to its end is kept and may be sent again; one still being
 * read (the answer came before the body's source ended: a server that answers without reading
 * an upload, a stream that stalls, a timeout) is not, and the failure goes in `unkept`. Waiting
 * for the copy would wait on the body's source, forever for one that never ends.
 */
async function first(sent: Promise<unknown>, spare: Spare, attempt: ClientAttempt): Promise<unknown> {
  const judge = (failure: unknown) => {
    if (spare.isKept !== true && typeof failure === 'object' && failure !== null) unkept.add(failure);
  };
  // A time limit may end the attempt before fetch settles: the error it rejects with is judged then.
  const off = attempt.abortable ? attempt.onAbort(judge) : undefined;
  try {
    const response = await sent;
    if (Number((response as Response | null)?.status) >= 400) judge(response);
    return response;
  } catch (error) {
    judge(error);
    throw error;
  } finally {
    off?.();
  }
}

/** One attempt: `target` (the caller's argument or a fresh copy of it) with the attempt's signal and key. */
function send(
  fetchFn: FetchLike,
  target: unknown,
  request: RequestLike | undefined,
  init: RequestInit | undefined,
  signal: AbortSignal | undefined,
  attempt: ClientAttempt,
): Promise<unknown> {
  const key = attempt.idempotencyKey;
  if (key === undefined && attempt.signal === signal) return fetchFn(target, init).then(undefined, ruledOut);
  const next: RequestInit = { ...init };
  // A timed attempt with a signal of the caller's: the attempt's own signal stops following the
  // caller's once the headers came, but fetch ends a response's body when the signal it was
  // given aborts, and a caller that gives up reading expects that. So fetch gets a signal that
  // follows both (not `AbortSignal.any`, which on Node 20 leaks an entry per request on the
  // caller's signal: see `bodySignal`).
  if (attempt.signal !== undefined)
    next.signal = signal === undefined ? attempt.signal : bodySignal(signal, attempt.signal);
  if (key !== undefined) {
    const headers = new Headers(init?.headers ?? request?.headers);
    headers.set(IDEMPOTENCY_KEY_HEADER, key);
    next.headers = headers;
  }
  return fetchFn(target, next).then(undefined, ruledOut);
}

/**
 * The reasons undici's fetch gives, as the `cause` of its `TypeError: fetch failed`, for a
 * request its own rules refuse: a redirect loop (20 redirects), a redirect under `redirect:
 * 'error'`, a redirect to or a URL of a scheme or port fetch does not send to, a proxy that
 * wants credentials, a redirect its mode forbids (to another origin with credentials in the
 * URL, under `same-origin` or `no-cors`), and none at all (an empty message) for a 307 or 308
 * of a streamed body, which fetch cannot send again. A socket's failure comes with a `code` instead.
 */
const FETCH_RULE =
  /^(|redirect count exceeded|unexpected redirect|URL scheme must be a HTTP\(S\) scheme|unknown scheme|bad port|invalid method|proxy authentication required|about scheme is not supported|failed to fetch the data URL|not implemented\.\.\. yet\.\.\.|cross origin not allowed for request mode "cors"|URL cannot contain credentials for request mode "cors"|request mode cannot be "same-origin"|redirect mode cannot be "follow" for "no-cors" request|cors failure|local URLs only|only if cached)$/;

/**
 * undici's error for a `101 Switching Protocols` answer to a request that asked for no upgrade:
 * no final status, the same on every try (a `1xx` without `Upgrade` is an `HPE_*` error already).
 */
const isBadUpgrade = (cause: { message?: unknown; code?: unknown }): boolean =>
  cause.code === 'UND_ERR_SOCKET' && cause.message === 'bad upgrade';

/**
 * Rethrows an attempt's error, marked `retryable: false` when fetch's own rules refused the
 * request, or the answer was a `101` (`isBadUpgrade`): trying again gets the same answer (a
 * redirect loop, sent again, is 21 more requests; before, a 101 was retried as a network
 * error), and the host is not failing, so neither the retry nor the breaker counts it.
 */
function ruledOut(error: unknown): never {
  const cause = (error as { cause?: { message?: unknown; code?: unknown } } | null)?.cause;
  if (
    (error as Error)?.name === 'TypeError' &&
    typeof cause?.message === 'string' &&
    (cause.code === undefined ? FETCH_RULE.test(cause.message) : isBadUpgrade(cause))
  ) {
    Object.defineProperty(error, 'retryable', { value: false, configurable: true, writable: true });
  }
  throw error;
}

export { resilienceDetails } from '@resilience/core';
