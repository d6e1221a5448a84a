import {
  type ClientAttempt,
  type ClientOptions,
  IDEMPOTENCY_KEY_HEADER,
  type ResilientClient,
  resilientClient,
} from '@resilience/core';
import { checkNested, OptionsValidator } from '@resilience/core/internal';
import { bodySignal } from './body-signal.js';
import { headerOf, isReplayableCall, isRequestLike, type RequestLike } from './request.js';

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

/** Defaults of `withResilience` beyond the client's (`CLIENT_DEFAULTS`). */
export const FETCH_DEFAULTS = { name: 'fetch' } as const;

const transport = {
  status: (response: Response) => response.status,
  headers: (response: Response) => response.headers,
  // A response that is retried is released, so its connection is freed before the wait: a
  // web stream is cancelled; node-fetch's body, a Node stream without `cancel`, is read out
  // (node-fetch 2 hands the socket back only once the response ends).
  discard: (response: Response) => {
    const body = response.body as { cancel?: unknown; resume?: unknown } | null;
    if (typeof body?.cancel === 'function') (body as ReadableStream).cancel().catch(() => {});
    else if (typeof body?.resume === 'function') (body as unknown as NodeJS.ReadableStream).resume();
  },
};

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
  // are no object, which the spread below would drop, too).
  const v = new OptionsValidator('withResilience')
    .check(typeof fetchFn === 'function', 'fetch', fetchFn, 'a fetch function')
    .check(typeof options === 'object' && options !== null, 'options', options, 'an object of options');
  type R = Awaited<ReturnType<F>>;
  const client = checkNested(
    v,
    undefined,
    () =>
      resilientClient<FetchRequest, R>(
        { name: FETCH_DEFAULTS.name, ...options },
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
      // sends a Request already read, which `clone()` refuses).
      const copied =
        replayable && request !== undefined && request.body !== null && init?.body == null ? request : undefined;
      return client.request(
        {
          request: { input, init, method, url },
          method,
          url,
          header: (name) => headerOf(headers, name),
          signal,
          replayable,
        },
        (attempt) => send(fetchFn, input, request, copied, init, signal, attempt) as Promise<R>,
      );
    } catch (error) {
      return Promise.reject(error); // as fetch: an argument it cannot read rejects, never throws
    }
  };
  return Object.assign(resilient, { client }) as unknown as ResilientFetch<F>;
}

/** One attempt: a fresh copy of `copied` (a `Request` whose body can be sent again), the attempt's signal and key. */
function send(
  fetchFn: FetchLike,
  input: unknown,
  request: RequestLike | undefined,
  copied: RequestLike | undefined,
  init: RequestInit | undefined,
  signal: AbortSignal | undefined,
  attempt: ClientAttempt,
): Promise<unknown> {
  const target = copied === undefined ? input : copied.clone();
  const key = attempt.idempotencyKey;
  if (key === undefined && attempt.signal === signal) return fetchFn(target, init);
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
  return fetchFn(target, next);
}

export { resilienceDetails } from '@resilience/core';
