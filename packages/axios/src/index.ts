import {
  type ClientOptions,
  ConfigurationError,
  isRetryableFailure,
  type ResilientClient,
  resilientClient,
} from '@resilience/core';
import { checkNested, isPlainObject, OptionsValidator, refuseSignal } from '@resilience/core/internal';
import axios, { type AxiosError, type AxiosInstance, type AxiosResponse, type InternalAxiosRequestConfig } from 'axios';
import { type AdapterSpec, AsLeft, fetchedStatus } from './as-left.js';
import { followToken } from './caller-cancel.js';

/** The options of `withResilience`: the same as `@resilience/fetch`, each the options of a core factory. */
export type ResilientAxiosOptions = ClientOptions<InternalAxiosRequestConfig>;

/** The instance, plus the client that holds its per-host policies. */
export type ResilientAxios<T extends AxiosInstance = AxiosInstance> = T & {
  readonly client: ResilientClient<InternalAxiosRequestConfig, AxiosResponse>;
};

/** The client's options that are objects of options: p-retry's habit puts a `signal` there too, which axios takes per request. */
const SECTIONS = ['retry', 'breaker', 'throttle', 'rateLimit', 'timeout', 'metrics'];

/** Defaults of `withResilience` beyond the client's (`CLIENT_DEFAULTS`). */
export const AXIOS_DEFAULTS = { name: 'axios' } as const;

// axios rejects on an error status; with a `validateStatus` that accepts one, the response
// resolves and is read here, so a 503 is retried (and the last one returned) as with fetch.
const transport = {
  status: (response: AxiosResponse) => response.status,
  headers: (response: AxiosResponse) => response.headers,
  // A retried response whose body is a stream (`responseType: 'stream'`) is released: a Node
  // stream (the http adapter's) is destroyed with its request, a web stream (the fetch
  // adapter's) cancelled. The request too: with `maxContentLength` the http adapter's stream
  // is a `Readable.from` over a generator of its own, whose destroy waits for the read in
  // progress, forever on a body that stalls, and the socket under it stays open.
  discard: (response: AxiosResponse) => {
    const data = response.data as { destroy?: () => void } | ReadableStream | null;
    if (typeof (data as ReadableStream | null)?.getReader === 'function') {
      (data as ReadableStream).cancel().catch(() => {});
    } else if (typeof (data as { destroy?: () => void } | null)?.destroy === 'function') {
      (data as { destroy: () => void }).destroy();
      (response.request as { destroy?: () => void } | undefined)?.destroy?.(); // a no-op once its response ended
    }
  },
};

/** Marks an instance `withResilience` installed on, seen by another copy of this package too. */
const INSTALLED = Symbol.for('@resilience/axios.installed');
/** What `@resilience/fetch` marks the fetch it returns with. */
const WRAPPED_FETCH = Symbol.for('@resilience/fetch.wraps');

/**
 * Makes an axios instance retry what is safe to retry, honour `Retry-After`, and keep a
 * breaker, a throttle, a rate limit and metrics per host, as configured. Installs one
 * request interceptor that hands the request's adapter to the client, so retries happen
 * below the interceptors and transforms: each retry is a fresh copy of the request as they
 * left it, and they run once. Rejects with the last attempt's `AxiosError` (with
 * `resilience` details), or with the local refusal (`BrokenCircuitError` ...).
 *
 * @example
 * const api = withResilience(axios.create({ baseURL: 'https://api.example.com' }), {
 *   breaker: { strategy: consecutive(5) },
 *   timeout: 10_000,
 * });
 * const { data } = await api.get('/v1/items');
 */
export function withResilience<T extends AxiosInstance>(
  instance: T,
  options: ResilientAxiosOptions = {},
): ResilientAxios<T> {
  const v = new OptionsValidator('withResilience');
  const isInstance = typeof instance === 'function' && typeof instance.interceptors?.request?.use === 'function';
  v.check(isInstance, 'instance', instance, 'an axios instance (axios.create())');
  v.check(
    !isInstance || (instance as { [INSTALLED]?: unknown })[INSTALLED] !== true,
    'instance',
    'an instance',
    'one without resilience (already installed)',
  );
  // Its fetch adapter sending through `@resilience/fetch`'s fetch: two retry layers, attempts multiplied.
  const envFetch = isInstance
    ? (instance.defaults?.env?.fetch as { [WRAPPED_FETCH]?: unknown } | undefined)
    : undefined;
  v.check(
    envFetch?.[WRAPPED_FETCH] !== true,
    'env.fetch',
    'a fetch @resilience/fetch wraps',
    'a fetch withResilience does not wrap (the plain fetch: this instance retries already)',
  );
  // Options that are no plain object, whose spread below would drop or invent options.
  v.check(isPlainObject(options), 'options', options, 'an object of options');
  refuseAxiosRetry(v, options);
  refuseSignal(
    v,
    options,
    "nothing here (a signal cancels one request: its config's, get(url, { signal }))",
    ...SECTIONS,
  );
  // The instance and the client's options, in one `withResilience` error.
  const client = checkNested(
    v,
    undefined,
    () =>
      resilientClient<InternalAxiosRequestConfig, AxiosResponse>(
        { ...options, name: options.name === undefined ? AXIOS_DEFAULTS.name : options.name },
        transport,
      ),
    ['options'],
  )!;
  v.done();
  instance.interceptors.request.use(
    (config) => {
      const spec = config.adapter;
      config.adapter = (request) => run(client, request, spec);
      return config;
    },
    null,
    { synchronous: true },
  );
  return Object.assign(instance, { client, [INSTALLED]: true });
}

/**
 * axios-retry's options, given to `withResilience` or inside its `retry`, and what takes their
 * place (core would suggest `retry` for `retryCondition`, or nothing); the client's checks then
 * pass over them. Getters are not called.
 */
const AXIOS_RETRY_OPTIONS: Readonly<Record<string, string>> = {
  retries: 'retry: { maxAttempts: retries + 1 }',
  retryCondition: 'retry: { handle }, given the AxiosError',
  retryDelay: 'retry: { backoff }, e.g. backoff.exponential()',
  onRetry: 'retry: { onRetry }',
  shouldResetTimeout: 'timeout, which bounds each attempt (deadlineMs all of them)',
  onMaxRetryTimesExceeded: "client.onEvent(), type 'give_up'",
  validateResponse: "none: axios' validateStatus decides what fails",
};

function refuseAxiosRetry(v: OptionsValidator, options: unknown): void {
  const refuse = (at: unknown, name: string, path: string, hint: string) => {
    const own = isPlainObject(at) ? Object.getOwnPropertyDescriptor(at, name) : undefined;
    if (own) v.check(false, path, own.value, `a known option (axios-retry's? here: ${hint})`);
  };
  try {
    const retry = isPlainObject(options) ? Object.getOwnPropertyDescriptor(options, 'retry')?.value : undefined;
    for (const [name, hint] of Object.entries(AXIOS_RETRY_OPTIONS)) {
      refuse(options, name, name, hint);
      // Inside retry, its own onRetry and core's hint for retries stand.
      if (name !== 'onRetry' && name !== 'retries') {
        refuse(retry, name, `retry.${name}`, hint.replace(/^retry: \{ (\w+) \}/, '$1'));
      }
    }
  } catch {}
}

function run(
  client: ResilientClient<InternalAxiosRequestConfig, AxiosResponse>,
  config: InternalAxiosRequestConfig,
  spec: AdapterSpec,
): Promise<AxiosResponse> {
  // axios-retry's key: its per-request options, which none of ours reads (the request would be
  // retried as the instance says), or the state it keeps there while still installed on this
  // instance, whose retries multiply ours (4 × 4 calls). Refused before anything is sent.
  const theirs = (config as { 'axios-retry'?: unknown })['axios-retry'];
  if (theirs !== undefined) return Promise.reject(new ConfigurationError('axios request', [AXIOS_RETRY(theirs)]));
  // The adapter as the request had it, not our wrapper, on the config every error and response
  // carries (axios' own, or an attempt's copy): sent again (a 401 token refresh's
  // `api.request(error.config)`), the request runs through us once, as it did.
  (config as { adapter?: AdapterSpec }).adapter = spec;
  const url = urlOf(config);
  const left = new AsLeft(config, spec ?? axios.defaults.adapter);
  const signal = (config.signal ?? undefined) as AbortSignal | undefined;
  const token = config.cancelToken == null ? undefined : followToken(config.cancelToken, signal);
  const sent = client.request(
    {
      request: config,
      method: config.method ?? 'get',
      url,
      header: (name) => headerText(config.headers.get(name)),
      signal: token === undefined ? signal : token.signal,
      replayable: isReplayable(config.data),
    },
    (attempt) => left.send(attempt).then(finalOnly, brokenOff),
  );
  return token === undefined ? sent : sent.finally(token.stop);
}

const AXIOS_RETRY = (received: unknown) => ({
  option: "config['axios-retry']",
  received,
  allowed:
    'no key of axios-retry: remove axiosRetry() from the instance (its retries multiply ours); to send one request once, read a config key of your own in idempotent',
});

const ABSOLUTE_URL = /^([a-z][a-z\d+\-.]*:)?\/\//i;

/**
 * The request's URL as far as its host goes: `url` when absolute, else `baseURL` — axios puts
 * a `/` between the two, so a relative `url` (`items`, `.evil.test/x`) never changes the host.
 */
function urlOf(config: InternalAxiosRequestConfig): string {
  const url = config.url ?? '';
  const base = config.baseURL;
  return base !== undefined && (config.allowAbsoluteUrls === false || !ABSOLUTE_URL.test(url)) ? base : url;
}

function headerText(value: unknown): string | null {
  return value === undefined || value === null || value === false ? null : String(value);
}

/** Whether a (transformed) body can be sent again: a Node or web stream, or an async iterable, is read once. */
const isReplayable = (data: unknown): boolean =>
  typeof data !== 'object' ||
  data === null ||
  !(
    typeof (data as { pipe?: unknown }).pipe === 'function' ||
    typeof (data as ReadableStream).getReader === 'function' ||
    Symbol.asyncIterator in data
  );

/**
 * A response with no final status fails the attempt as axios fails a status it refuses: the
 * http adapter resolves a `000` status line (axios' `validateStatus` lets a status 0 through),
 * and a `1xx` that `validateStatus` accepts. Before, such an answer was a success, never
 * retried nor counted. (A `101` with `Upgrade` never settles in the http adapter: `timeout`
 * bounds it; the fetch adapter's `bad upgrade` is not retried, below.)
 */
function finalOnly(response: AxiosResponse): AxiosResponse {
  const { status } = response;
  if (typeof status !== 'number' || status >= 200) return response;
  const { AxiosError: Failed } = axios;
  throw new Failed(
    `Request failed with status code ${status}`,
    Failed.ERR_BAD_RESPONSE,
    response.config,
    response.request,
    response,
  );
}

/**
 * The reasons undici's fetch gives (the fetch adapter's `ERR_NETWORK` has them as its `cause`)
 * for a request fetch's own rules refuse: a redirect loop (20 redirects), a redirect to a
 * scheme fetch does not speak, a port it never sends to, a redirect its mode forbids (to
 * another origin with credentials in the URL), and none at all (an empty message) for a 307
 * or 308 of a streamed body, which fetch cannot send again. A socket's failure has a `code`.
 */
const FETCH_RULE =
  /^(|redirect count exceeded|unexpected redirect|URL scheme must be a HTTP\(S\) scheme|unknown scheme|bad port|invalid method|proxy authentication required|cross origin not allowed for request mode "cors"|URL cannot contain credentials for request mode "cors"|request mode cannot be "same-origin"|redirect mode cannot be "follow" for "no-cors" request|cors failure|local URLs only|only if cached)$/;

/**
 * Rethrows an attempt's error, marked `retryable` when the http adapter's buffered body broke
 * off after a status below 400 ('stream has been aborted'): the caller had none of the body, a
 * network error. Core's `isRetryableFailure` reads such an error by its code (an ECONNRESET
 * after a 200 is retried already); this message it does not know. The fetch adapter's
 * `ERR_NETWORK`, which core reads by its cause (else as a network error), carries undici's own error as its
 * `cause`: marked `retryable: false` when that error is not one to retry as the http adapter
 * would have thrown it (by its code: a Location no URL parser reads, `ERR_INVALID_URL`, a
 * TLS refusal; undici's `bad upgrade`, a `101` answer), or when fetch's rules refused the
 * request (a reason, no code): the same on every try, and no sign of a host in trouble — as the http adapter's
 * `ERR_FR_TOO_MANY_REDIRECTS` is not retried.
 */
function brokenOff(error: unknown): never {
  const e = error as AxiosError;
  if (!axios.isAxiosError(error)) throw error;
  const cause = e.cause as { message?: unknown; code?: unknown } | undefined;
  // A body over `maxContentLength` fails without a response, whatever its status: the http
  // adapter's request has the status line it read, the fetch adapter's `Request` the status
  // recorded for it. A 503 is then read as the 503 it is (retried, counted by the breaker) as
  // fetch reads it; a 200's stays the client's own refusal.
  const status =
    e.response === undefined
      ? ((e.request as { res?: { statusCode?: unknown } })?.res?.statusCode ?? fetchedStatus(e.request))
      : undefined;
  if (e.code === 'ERR_BAD_RESPONSE' && e.status === undefined && typeof status === 'number' && status >= 400) {
    Object.defineProperty(error, 'status', { value: status, configurable: true, writable: true, enumerable: true });
  }
  if (e.message === 'stream has been aborted' && (e.response?.status ?? 400) < 400) {
    Object.defineProperty(error, 'retryable', { value: true, configurable: true, writable: true });
    // What Node reports for the connection that closed mid-body (a streamed body's error, the
    // fetch adapter's cause): so `classify` calls it `network` through either adapter, not `unknown`.
    if (e.cause === undefined) {
      const reset = Object.assign(new Error('aborted'), { code: 'ECONNRESET' });
      Object.defineProperty(error, 'cause', { value: reset, configurable: true, writable: true });
    }
  } else if (
    e.code === 'ERR_NETWORK' &&
    (typeof cause?.code === 'string'
      ? !isRetryableFailure(cause) || (cause.code === 'UND_ERR_SOCKET' && cause.message === 'bad upgrade')
      : cause?.code === undefined && typeof cause?.message === 'string' && FETCH_RULE.test(cause.message))
  ) {
    Object.defineProperty(error, 'retryable', { value: false, configurable: true, writable: true });
  }
  throw error;
}

export { resilienceDetails } from '@resilience/core';
