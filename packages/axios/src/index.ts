import { type ClientOptions, ConfigurationError, type ResilientClient, resilientClient } from '@resilience/core';
import { checkNested, isPlainObject, OptionsValidator, refuseSignal } from '@resilience/core/internal';
import axios, { type AxiosInstance, type AxiosResponse, type InternalAxiosRequestConfig } from 'axios';
import { type AdapterSpec, AsLeft } from './as-left.js';
import { AXIOS_RETRY, refuseAxiosRetry } from './axios-retry.js';
import { brokenOff } from './broken-off.js';
import { followToken } from './caller-cancel.js';
import { WRAPPED_ENV_FETCH, wrapsFetch } from './wrapped-fetch.js';

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
  // adapter's) cancelled, which ends its fetch (`adapter-bodies.ts`). The request too: with
  // `maxContentLength` the http adapter's stream is a `Readable.from` over a generator of its
  // own, whose destroy waits for the read in progress, forever on a body that stalls, and the
  // socket under it stays open.
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
  const { option, received, allowed } = WRAPPED_ENV_FETCH;
  v.check(!isInstance || !wrapsFetch(instance.defaults?.env), option, received, allowed);
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
  // The same for a fetch of `@resilience/fetch` the instance got after `withResilience`, or the request.
  if (wrapsFetch(config.env)) return Promise.reject(new ConfigurationError('axios request', [WRAPPED_ENV_FETCH]));
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

export { resilienceDetails } from '@resilience/core';
