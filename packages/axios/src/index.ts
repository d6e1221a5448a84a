import {
  type ClientAttempt,
  type ClientOptions,
  IDEMPOTENCY_KEY_HEADER,
  type ResilientClient,
  resilientClient,
} from '@resilience/core';
import { OptionsValidator } from '@resilience/core/internal';
import axios, {
  type AxiosHeaders,
  type AxiosInstance,
  type AxiosResponse,
  type InternalAxiosRequestConfig,
} from 'axios';
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
  const left = new AsLeft(config, spec ?? axios.defaults.adapter);
  return client.request(
    {
      request: config,
      method: config.method ?? 'get',
      url,
      header: (name) => headerText(config.headers.get(name)),
      signal: (config.signal ?? undefined) as AbortSignal | undefined,
      replayable: isReplayable(config.data),
    },
    (attempt) => left.send(attempt),
  );
}

/**
 * A request as the interceptors left it, and what its attempts change. The first attempt of
 * axios' own adapters, when the caller gave no signal or token, sends the config itself
 * (copying it costs ~5 % of a loopback request): they change only its headers, and the
 * attempt only its `cancelToken`. Any other attempt (a retry; a custom adapter, which may
 * change anything) sends a copy of the config with its headers and `cancelToken` as they
 * were, so nothing one attempt changed reaches the next.
 */
class AsLeft {
  readonly #config: InternalAxiosRequestConfig;
  readonly #spec: AdapterSpec;
  readonly #builtIn: boolean;
  readonly #cancelToken: InternalAxiosRequestConfig['cancelToken'];
  readonly #inPlace: boolean;
  readonly #headers: Record<string, unknown>;

  constructor(config: InternalAxiosRequestConfig, spec: AdapterSpec) {
    this.#config = config;
    this.#spec = spec;
    this.#builtIn = isBuiltIn(spec);
    this.#cancelToken = config.cancelToken;
    this.#inPlace = this.#builtIn && this.#cancelToken == null && config.signal == null;
    this.#headers = { ...config.headers }; // an AxiosHeaders keeps each header as an own property
  }

  /** One attempt: the attempt's cancellation and key, through the original adapter. */
  send(attempt: ClientAttempt): Promise<AxiosResponse> {
    const config = this.#config;
    const adapter = axios.getAdapter(this.#spec, config);
    const sent = attempt.attempt === 1 && this.#inPlace ? config : this.#copy();
    sent.adapter = adapter; // resending `error.config` does not run the request twice through us
    if (attempt.idempotencyKey !== undefined) sent.headers.set(IDEMPOTENCY_KEY_HEADER, attempt.idempotencyKey);
    if (!attempt.abortable) return adapter(sent); // nothing can abort it: the caller passed no signal either
    if (this.#cancelToken == null && this.#builtIn) {
      // The token follows the caller's signal too, through the attempt. A streamed body
      // outlives the attempt: the caller's signal stays, so it still ends the body.
      sent.cancelToken = new AttemptCancelToken(attempt).token;
      if (sent.signal != null && config.responseType !== 'stream') (sent as { signal?: unknown }).signal = undefined;
    } else {
      sent.signal = attempt.signal!; // a custom adapter may know only the signal
    }
    return adapter(sent);
  }

  /** A copy of the config as the interceptors left it, with headers of its own. */
  #copy(): InternalAxiosRequestConfig {
    const config = this.#config;
    const copy = copyOf(config);
    copy.headers = Object.assign(new (config.headers.constructor as new () => AxiosHeaders)(), this.#headers);
    if (this.#cancelToken === undefined) delete copy.cancelToken;
    else copy.cancelToken = this.#cancelToken;
    return copy;
  }
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
