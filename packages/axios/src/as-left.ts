import { type ClientAttempt, IDEMPOTENCY_KEY_HEADER } from '@resilience/core';
import axios, {
  type AxiosAdapter,
  type AxiosHeaders,
  type AxiosResponse,
  type InternalAxiosRequestConfig,
} from 'axios';
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

type Fetch = typeof fetch;

/** The error statuses the fetch adapter's requests were answered with, by the `Request` its error carries. */
const statuses = new WeakMap<object, number>();
/** Each fetch with its recording wrappers (plain, and for streamed bodies), kept: axios builds its fetch adapter once per fetch function. */
const recorders = [new WeakMap<Fetch, Fetch>(), new WeakMap<Fetch, Fetch>()];
/** What ends a streamed body's fetch, by its `Request` (the response's `request`). */
const stoppers = new WeakMap<object, AbortController>();

/**
 * `fetch`, recording the status of an error response for `fetchedStatus`. For a streamed body,
 * the fetch also follows a signal of its own, which {@link stopFetch} aborts when the body is
 * cancelled ({@link stoppable}): axios may wrap the body in a stream whose `cancel()` waits for
 * the read in progress, for ever on a body that stalls; aborting the fetch ends that read.
 */
function recording(fetch: Fetch, streamed: boolean): Fetch {
  const cache = recorders[streamed ? 1 : 0]!;
  let recorder = cache.get(fetch);
  if (recorder === undefined) {
    recorder = (input, init) => {
      if (streamed && input instanceof Request) {
        // Following the request's own signal (one per request: nothing builds up on a caller's).
        const stop = new AbortController();
        const source = input.signal;
        if (source.aborted) stop.abort(source.reason);
        else source.addEventListener('abort', () => stop.abort(source.reason), { once: true });
        stoppers.set(input, stop);
        init = { ...init, signal: stop.signal };
      }
      return fetch(input, init).then((response) => {
        if (response.status >= 400 && typeof input === 'object') statuses.set(input, response.status);
        return response;
      });
    };
    cache.set(fetch, recorder);
    cache.set(recorder, recorder); // a config sent again keeps its recorder as it is
  }
  return recorder;
}

/** Ends the fetch of a streamed body read through {@link recording}, if it was. */
const stopFetch = (request: unknown): void => {
  if (typeof request === 'object' && request !== null) stoppers.get(request)?.abort();
};

/**
 * The fetch adapter's response, its streamed body given a cancel that ends the fetch first:
 * axios' own stream around the body (under a signal or cancel token, ours whenever an attempt
 * can be cancelled, `maxContentLength` or `onDownloadProgress`) reads ahead, and its cancel
 * waits for that read. On a body that stalls (an event stream between two events), a retried
 * response kept its connection, and a caller leaving `for await` early waited, the connection
 * held, until the server sent more.
 */
function stoppable(response: AxiosResponse | undefined): void {
  const body = response?.data as ReadableStream<Uint8Array> | null | undefined;
  if (typeof body?.getReader !== 'function') return;
  const reader = body.getReader();
  const request = response!.request;
  response!.data = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const { done, value } = await reader.read();
        if (done) controller.close();
        else controller.enqueue(value);
      },
      cancel(reason) {
        const cancelled = reader.cancel(reason);
        stopFetch(request); // ends the read the cancel waits for
        return cancelled;
      },
    },
    { highWaterMark: 0 },
  );
}

type NodeDestroy = (error: Error | null, callback: (error?: Error | null) => void) => void;

/**
 * The http adapter's response, its streamed body under `maxContentLength` made to destroy its
 * request first: that body is a `Readable.from` over a generator of axios' own, whose destroy
 * waits for the read in progress, for ever on a body that stalls, the socket held meanwhile.
 * Destroying the request closes the socket, which ends that read.
 */
function endsRequest(response: AxiosResponse | undefined): void {
  const body = response?.data as { _destroy?: NodeDestroy } | null | undefined;
  const request = response?.request as { destroy?: () => void } | undefined;
  const destroy = body?._destroy;
  if (typeof destroy !== 'function' || typeof request?.destroy !== 'function') return;
  body!._destroy = function (this: unknown, error, callback) {
    request.destroy!(); // a no-op once its response ended
    destroy.call(this, error, callback);
  };
}

/** `adapter`, with `own` given the response it resolves with, or its error's (an error status). */
const owning =
  (adapter: AxiosAdapter, own: (response: AxiosResponse | undefined) => void): AxiosAdapter =>
  (config) =>
    adapter(config).then(
      (response) => {
        own(response);
        return response;
      },
      (error: unknown) => {
        own((error as { response?: AxiosResponse } | null | undefined)?.response);
        throw error;
      },
    );

/** The error status the fetch adapter's `request` was answered with, if it was. */
export const fetchedStatus = (request: unknown): number | undefined =>
  typeof request === 'object' && request !== null ? statuses.get(request) : undefined;
