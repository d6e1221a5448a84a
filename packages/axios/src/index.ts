import {
  type ClientAttempt,
  type ClientOptions,
  IDEMPOTENCY_KEY_HEADER,
  type ResilientClient,
  resilientClient,
} from '@resilience/core';
import { OptionsValidator } from '@resilience/core/internal';
import axios, { type AxiosInstance, type AxiosResponse, type InternalAxiosRequestConfig } from 'axios';
import { AttemptCancelToken } from './cancel-token.js';

/** The options of `withResilience`: the same as `@resilience/fetch`, each the options of a core factory. */
export type ResilientAxiosOptions = ClientOptions<InternalAxiosRequestConfig>;

/** The instance, plus the client that holds its per-host policies. */
export type ResilientAxios<T extends AxiosInstance = AxiosInstance> = T & {
  readonly client: ResilientClient<InternalAxiosRequestConfig, AxiosResponse>;
};

/** Defaults of `withResilience` beyond the client's (`CLIENT_DEFAULTS`). */
export const AXIOS_DEFAULTS = { name: 'axios' } as const;

type AdapterSpec = InternalAxiosRequestConfig['adapter'];

// axios rejects on an error status; with a `validateStatus` that accepts one, the response
// resolves and is read here, so a 503 is retried (and the last one returned) as with fetch.
const transport = {
  status: (response: AxiosResponse) => response.status,
  headers: (response: AxiosResponse) => response.headers,
  // A retried response whose body is a stream (`responseType: 'stream'`) is released.
  discard: (response: AxiosResponse) => (response.data as { destroy?: () => void } | null)?.destroy?.(),
};

const installed = new WeakSet<object>();

/**
 * Makes an axios instance retry what is safe to retry, honour `Retry-After`, and keep a
 * breaker, a throttle, a rate limit and metrics per host, as configured. Installs one
 * request interceptor that hands the request's adapter to the client, so retries happen
 * below the interceptors and transforms: each attempt is a fresh copy of the request as they
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
    !isInstance || !installed.has(instance),
    'instance',
    'an instance',
    'one without resilience (already installed)',
  );
  v.done();
  const client = resilientClient<InternalAxiosRequestConfig, AxiosResponse>(
    { name: AXIOS_DEFAULTS.name, ...options },
    transport,
  );
  instance.interceptors.request.use(
    (config) => {
      const spec = config.adapter;
      config.adapter = (request) => run(client, request, spec);
      return config;
    },
    null,
    { synchronous: true },
  );
  installed.add(instance);
  return Object.assign(instance, { client });
}

function run(
  client: ResilientClient<InternalAxiosRequestConfig, AxiosResponse>,
  config: InternalAxiosRequestConfig,
  spec: AdapterSpec,
): Promise<AxiosResponse> {
  const url = urlOf(config);
  return client.request(
    {
      request: config,
      method: config.method ?? 'get',
      url,
      header: (name) => headerText(config.headers.get(name)),
      signal: (config.signal ?? undefined) as AbortSignal | undefined,
      replayable: isReplayable(config.data),
    },
    (attempt) => send(config, spec, attempt),
  );
}

/** One attempt: a copy of the request with its own headers, the attempt's signal and key, through the original adapter. */
function send(config: InternalAxiosRequestConfig, spec: AdapterSpec, attempt: ClientAttempt): Promise<AxiosResponse> {
  const headers = config.headers.concat();
  if (attempt.idempotencyKey !== undefined) headers.set(IDEMPOTENCY_KEY_HEADER, attempt.idempotencyKey);
  const adapter = axios.getAdapter(spec ?? axios.defaults.adapter, config);
  const copy = copyOf(config);
  copy.headers = headers;
  copy.adapter = adapter;
  if (!attempt.abortable) return adapter(copy); // nothing can abort it: the caller passed no signal either
  if (config.cancelToken == null && isBuiltIn(spec ?? axios.defaults.adapter)) {
    // The token follows the caller's signal too, through the attempt.
    copy.cancelToken = new AttemptCancelToken(attempt).token;
    if (copy.signal != null) (copy as { signal?: unknown }).signal = undefined;
  } else {
    copy.signal = attempt.signal!; // a custom adapter may know only the signal
  }
  return adapter(copy);
}

/**
 * A shallow copy of the config (its enumerable own keys, as a spread copies) with its
 * prototype: axios (≥ 1.21) makes it null-prototype, with `hasOwnProperty` as a hidden own
 * property, so nothing is inherited from a polluted `Object.prototype`. Copied key by key:
 * spreading such an object takes V8's slow path (~4 µs a request).
 */
function copyOf(config: InternalAxiosRequestConfig): InternalAxiosRequestConfig {
  const source = config as unknown as Record<PropertyKey, unknown>;
  const copy = Object.create(Object.getPrototypeOf(config)) as Record<PropertyKey, unknown>;
  const hidden = Object.getOwnPropertyDescriptor(config, 'hasOwnProperty');
  if (hidden !== undefined) Object.defineProperty(copy, 'hasOwnProperty', hidden);
  for (const key of Object.keys(source)) copy[key] = source[key];
  for (const key of Object.getOwnPropertySymbols(source)) {
    if (Object.prototype.propertyIsEnumerable.call(source, key)) copy[key] = source[key];
  }
  return copy as unknown as InternalAxiosRequestConfig;
}

/** Whether the adapter option names axios' own adapters only ('xhr', 'http', 'fetch'), which take a cancel token. */
const isBuiltIn = (spec: AdapterSpec): boolean =>
  typeof spec === 'string' || (Array.isArray(spec) && spec.every((name) => typeof name === 'string'));

const ABSOLUTE_URL = /^([a-z][a-z\d+\-.]*:)?\/\//i;

/** The request's URL as far as its host goes: `url`, after `baseURL` unless absolute. */
function urlOf(config: InternalAxiosRequestConfig): string {
  const url = config.url ?? '';
  const base = config.baseURL;
  return base !== undefined && (config.allowAbsoluteUrls === false || !ABSOLUTE_URL.test(url)) ? base + url : url;
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

export { resilienceDetails } from '@resilience/core';
