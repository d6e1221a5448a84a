import { type ClientAttempt, IDEMPOTENCY_KEY_HEADER } from '@resilience/core';
import axios, { type AxiosHeaders, type AxiosResponse, type InternalAxiosRequestConfig } from 'axios';
import { endsRequest, owning, recording, stoppable } from './adapter-bodies.js';
import { AttemptCancelToken, type BodyCancel } from './cancel-token.js';

export type AdapterSpec = InternalAxiosRequestConfig['adapter'];

/**
 * A request as the interceptors left it, and what its attempts change. The first attempt of
 * axios' own adapters, when the caller gave no signal or token, sends the config itself
 * (copying it costs ~5 % of a loopback request): they change only its headers, and the
 * attempt only its `cancelToken`. Any other attempt (a retry; a custom adapter, which may
 * change anything) sends a copy of the config with its headers and `cancelToken` as they
 * were, so nothing one attempt changed reaches the next.
 */
export class AsLeft {
  readonly #config: InternalAxiosRequestConfig;
  readonly #spec: AdapterSpec;
  readonly #builtIn: boolean;
  readonly #cancelToken: InternalAxiosRequestConfig['cancelToken'];
  readonly #signal: InternalAxiosRequestConfig['signal'];
  readonly #inPlace: boolean;
  readonly #headers: Record<string, unknown>;
  /** For a streamed body, which outlives its attempt: the caller's signal and token, which still end it. */
  readonly #body: BodyCancel | undefined;

  constructor(config: InternalAxiosRequestConfig, spec: AdapterSpec) {
    this.#config = config;
    this.#spec = spec;
    this.#builtIn = isBuiltIn(spec);
    this.#cancelToken = config.cancelToken;
    this.#signal = config.signal;
    this.#inPlace = this.#builtIn && this.#cancelToken == null && config.signal == null;
    this.#headers = { ...config.headers }; // an AxiosHeaders keeps each header as an own property
    this.#body =
      config.responseType === 'stream'
        ? { signal: (config.signal ?? undefined) as AbortSignal | undefined, token: config.cancelToken ?? undefined }
        : undefined;
  }

  /** One attempt: the attempt's cancellation and key, through the original adapter. */
  send(attempt: ClientAttempt): Promise<AxiosResponse> {
    const config = this.#config;
    let adapter = axios.getAdapter(this.#spec, config);
    const sent = attempt.attempt === 1 && this.#inPlace ? config : this.#copy();
    // The fetch adapter (the built-in one without an `adapterName`) fails a body over
    // `maxContentLength` without its response: its status is kept for `fetchedStatus`. A
    // streamed body's fetch can be stopped, and is when the body is let go (`stoppable`); the
    // http adapter's, under `maxContentLength`, destroys its request (`endsRequest`).
    const streamed = config.responseType === 'stream';
    const limited = (config.maxContentLength ?? -1) > -1;
    const name = this.#builtIn ? (adapter as { adapterName?: string }).adapterName : '';
    if (name === undefined && (streamed || limited)) {
      sent.env = { ...sent.env, fetch: recording(sent.env?.fetch ?? fetch, streamed) };
      adapter = axios.getAdapter(this.#spec, sent);
      if (streamed) adapter = owning(adapter, stoppable);
    } else if (name === 'http' && streamed && limited) adapter = owning(adapter, endsRequest);
    if (attempt.idempotencyKey !== undefined) sent.headers.set(IDEMPOTENCY_KEY_HEADER, attempt.idempotencyKey);
    if (!attempt.abortable) return adapter(sent); // nothing can abort it: the caller passed no signal either
    const restore = (settled: { config?: unknown } | undefined, response: boolean) => {
      if (settled?.config !== sent) return;
      // A streamed body outlives the attempt, and the http adapter lets go of `sent.cancelToken`
      // only once it ends: its response gets a config of its own instead.
      const own = response && config.responseType === 'stream' ? copyOf(sent) : sent;
      this.#asCalled(own);
      settled.config = own;
    };
    const restored = (response: AxiosResponse) => {
      restore(response, true);
      return response;
    };
    const rethrown = (error: { config?: unknown } | undefined) => {
      restore(error, false);
      throw error;
    };
    if (this.#builtIn) {
      // The token follows the caller's signal and token through the attempt (a streamed body,
      // which outlives it, through `#body`), so the adapter adds no listener of its own to
      // them: one request in flight would be one more listener on a long-lived signal.
      sent.cancelToken = new AttemptCancelToken(attempt, this.#body).token;
      if (sent.signal != null) (sent as { signal?: unknown }).signal = undefined;
    } else {
      sent.signal = attempt.signal!; // a custom adapter may know only the signal
    }
    return adapter(sent).then(restored, rethrown);
  }

  /**
   * The caller's `signal` and `cancelToken` back on a config the attempt settled with (the
   * response's or the error's): sent again (`api.request(error.config)`), the request still
   * follows them. The attempt's own token and signal are spent.
   */
  #asCalled(config: InternalAxiosRequestConfig): void {
    (config as { signal?: unknown }).signal = this.#signal;
    config.cancelToken = this.#cancelToken;
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
