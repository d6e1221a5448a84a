import { type Clock, systemClock } from '../clock/clock.js';
import { isOwnRejection, isRetryExhaustedError } from '../errors/errors.js';
import { OptionsValidator } from '../errors/validate.js';
import type { Disposer } from '../events/emitter.js';
import type { ExecuteContext, PolicyEvent } from '../policy/policy.js';
import { RateLimiter } from '../ratelimit/limiter.js';
import { perMinute } from '../ratelimit/presets.js';
import { tokenBucket } from '../ratelimit/token-bucket.js';
import { memoryStore } from '../store/memory.js';
import { Attempt, type ClientAttempt } from './attempt.js';
import {
  authorityEnd,
  hostKeyOf,
  IDEMPOTENCY_KEY_HEADER,
  IDEMPOTENT_METHODS,
  isIdempotentRequest,
  KEYED_METHODS,
} from './decisions.js';
import { attachDetails, type ClientDetails } from './details.js';
import { HostBuilder, HostMap, type HostPolicies } from './hosts.js';
import { HttpStatusError } from './http-status-error.js';
import { idempotencyKeys } from './idempotency-key.js';
import { CLIENT_DEFAULTS, type ClientOptions, type ClientRateLimitOptions, validateClientOptions } from './options.js';

export type { ClientAttempt } from './attempt.js';

/** One request, as an adapter describes it to the client. */
export interface ClientCall<N> {
  /** The adapter's request, for `idempotent` and `key`. */
  readonly request: N;
  /** The HTTP method, any case. */
  readonly method: string;
  /** The absolute URL: its host keys the policies. */
  readonly url: string | URL;
  /** Reads a request header (any case). */
  header?(name: string): string | null | undefined;
  /** The caller's signal: aborts waits and the attempt. */
  readonly signal?: AbortSignal | undefined;
  /** `false` for a body sent only once (a stream). @default true */
  readonly replayable?: boolean;
}

/** How an adapter's responses are read. */
export interface ClientTransport<R> {
  /** The status, for clients that resolve whatever it is (fetch): ≥ 400 fails the attempt. Omit for axios. */
  status?(response: R): number;
  /** The response's headers, where `Retry-After` is read. */
  headers?(response: R): unknown;
  /** Releases a retried response, or a failed attempt's error's `response` (axios), as the retry goes out. */
  discard?(response: R): void;
}

/** An event of one host's policies, stamped with the host. */
export type ClientEvent = PolicyEvent & { readonly host: string };

const signalCheck = (signal: unknown) =>
  signal === undefined || (typeof signal === 'object' && signal !== null && 'aborted' in signal);

/**
 * The shared pipeline of the HTTP client adapters: per host (or `key`), a deadline, retries
 * of what is safe to repeat, a breaker, adaptive throttling, a rate limit and an attempt
 * timeout, built from {@link ClientOptions}. An adapter hands each request to
 * {@link request} with a function that sends one attempt; see docs/client.md.
 */
/** `idempotent(request)`'s answer: a promise (an async function) is no yes, and is refused rather than read as no. */
function said(name: string, answer: unknown): boolean {
  if (typeof answer !== 'boolean') {
    throw new TypeError(`${name}: idempotent(request) must return a boolean, received ${typeof answer}`);
  }
  return answer;
}

export class ResilientClient<N = unknown, R = unknown> {
  readonly name: string;
  /** The rate limiter, keyed by host, when `rateLimit` is set. */
  readonly limiter: RateLimiter | undefined;
  readonly #options: ClientOptions<N>;
  readonly #transport: ClientTransport<R>;
  readonly #hosts: HostMap;
  readonly #clock: Clock;
  readonly #newKey: (() => string) | undefined;
  /** The origin (`scheme://authority`, as written) of the previous string URL, and its host's policies. */
  #lastOrigin = '';
  #lastHost: HostPolicies | undefined;
  /** The client's event listeners, each with its subscriptions to the hosts kept (a dropped host's leaves). */
  readonly #listeners = new Map<(event: ClientEvent) => void, Map<HostPolicies, Disposer>>();

  constructor(options: ClientOptions<N> = {}, transport: ClientTransport<R> = {}) {
    const limiter = (o: ClientOptions<never>) => (o.rateLimit === undefined ? undefined : buildLimiter(o.rateLimit, o));
    // The nested options are built from what the validation read, once: not read again.
    validateClientOptions(options as never, (o) => ({
      ...new HostBuilder(o, undefined).builders,
      rateLimit: () => limiter(o),
    }));
    this.#options = options;
    this.#transport = transport;
    this.name = options.name ?? CLIENT_DEFAULTS.name;
    this.#clock = options.clock ?? systemClock;
    const o = options as ClientOptions<never>;
    this.limiter = limiter(o);
    const builder = new HostBuilder(o, this.limiter);
    this.#hosts = new HostMap(
      options.maxHosts ?? CLIENT_DEFAULTS.maxHosts,
      (key) => builder.build(key),
      (host) => {
        for (const [listener, hosts] of this.#listeners) hosts.set(host, this.#forward(host, listener));
      },
      (host) => {
        for (const hosts of this.#listeners.values()) hosts.delete(host);
      },
      this.limiter?.synchronous ? (key) => !this.limiter!.peekSync(key).allowed : undefined,
    );
    this.#newKey = options.idempotencyKey === true ? idempotencyKeys(options.random) : undefined;
  }

  /** Runs one request, calling `send` per attempt; resolves with the last response, whatever its status. */
  request(call: ClientCall<N>, send: (attempt: ClientAttempt) => Promise<R>): Promise<R> {
    let host: HostPolicies;
    let safe: boolean;
    let idempotencyKey: string | undefined;
    try {
      if (!signalCheck(call.signal)) throw new TypeError(`${this.name}: signal: expected an AbortSignal or undefined`);
      host = this.#hostOf(call);
      const method = call.method.toUpperCase();
      // With `idempotencyKey`, a POST or PATCH carries a key, its own or one made here: safe, whatever `idempotent` says.
      const keyed = this.#newKey !== undefined && KEYED_METHODS.has(method);
      if (keyed) {
        const existing = call.header?.(IDEMPOTENCY_KEY_HEADER);
        if (existing == null || existing === '') idempotencyKey = this.#newKey!();
      }
      const idempotent = this.#options.idempotent;
      safe =
        host.retry !== undefined &&
        call.replayable !== false &&
        (keyed ||
          (idempotent === undefined
            ? IDEMPOTENT_METHODS.has(method) || isIdempotentRequest(method, call.header?.(IDEMPOTENCY_KEY_HEADER))
            : said(this.name, idempotent(call.request))));
    } catch (error) {
      return Promise.reject(error);
    }
    const run = new Run<R>(host, this.#transport, this.#clock, send, idempotencyKey, call.signal, safe);
    if (!safe) host.budget?.recordCall(); // the budget is a share of every request to the host
    host.inFlight++;
    return (safe ? host.withRetry : host.once).execute(run.attempt, call.signal).then(host.ended, run.settle);
  }

  /** The request's host (or key) policies; a URL with the origin of the previous one reuses its host's. */
  #hostOf(call: ClientCall<N>): HostPolicies {
    const url = call.url;
    if (this.#options.key !== undefined) {
      const key = this.#options.key(call.request);
      if (typeof key !== 'string') {
        throw new TypeError(`${this.name}: key(request) must return a string, received ${typeof key}`);
      }
      return this.#hosts.get(key);
    }
    const origin = this.#lastOrigin;
    if (
      typeof url === 'string' &&
      origin !== '' &&
      url.startsWith(origin) &&
      authorityEnd(url, origin.length) === origin.length
    ) {
      return this.#lastHost!; // the most recently used host: the map needs no update
    }
    const host = this.#hosts.get(hostKeyOf(url));
    // Kept only while it is the most recently used host, so the map's order needs no update.
    const scheme = typeof url === 'string' ? url.indexOf('://') : -1;
    this.#lastOrigin = scheme < 0 ? '' : (url as string).slice(0, authorityEnd(url as string, scheme + 3));
    this.#lastHost = host;
    return host;
  }

  /** A kept host's policies, without marking it used. */
  host(key: string): HostPolicies | undefined {
    return this.#hosts.peek(key);
  }

  /** The hosts (keys) whose policies are kept, least recently used first. */
  hosts(): string[] {
    return this.#hosts.keys();
  }

  /** Every event of every host's policies, stamped with the host; returns a disposer. */
  onEvent(listener: (event: ClientEvent) => void): Disposer {
    new OptionsValidator(`${this.name}.onEvent`).function('listener', listener).done();
    const own = (event: ClientEvent) => listener(event); // one entry per subscription
    const hosts = new Map<HostPolicies, Disposer>();
    for (const host of this.#hosts.values()) hosts.set(host, this.#forward(host, own));
    this.#listeners.set(own, hosts);
    return () => {
      this.#listeners.delete(own);
      for (const d of hosts.values()) d();
      hosts.clear();
    };
  }

  /** Drops every host's policies (their breakers leave the registry); the client stays usable. */
  clear(): void {
    this.#lastOrigin = '';
    this.#lastHost = undefined;
    this.#hosts.clear();
  }

  #forward(host: HostPolicies, listener: (event: ClientEvent) => void): Disposer {
    const key = host.key;
    return host.onEvent((event) => listener({ ...event, host: key }));
  }
}

/** One request's attempts: what is reported to the caller at the end. */
class Run<R> {
  attempts = 0;
  totalDelayMs = 0;
  /**
   * The last attempt that went out, and its failure: held until the next goes out (its response
   * then released) or the request ends. A retry refused before it goes out leaves it the answer.
   */
  #sent = 0;
  #answer: unknown;
  #failedAt = 0;
  #failed: ((error: unknown) => never) | undefined;
  readonly #retries: boolean;
  #statusError: HttpStatusError<R> | undefined;
  readonly #host: HostPolicies;
  readonly #transport: ClientTransport<R>;
  readonly #clock: Clock;
  readonly #send: (attempt: ClientAttempt) => Promise<R>;
  readonly #key: string | undefined;
  readonly #signal: AbortSignal | undefined;

  constructor(
    host: HostPolicies,
    transport: ClientTransport<R>,
    clock: Clock,
    send: (attempt: ClientAttempt) => Promise<R>,
    key: string | undefined,
    signal: AbortSignal | undefined,
    retries: boolean,
  ) {
    this.#retries = retries;
    this.#host = host;
    this.#transport = transport;
    this.#clock = clock;
    this.#send = send;
    this.#key = key;
    this.#signal = signal;
  }

  /** One attempt through the host's breaker, throttle, rate limit and attempt timeout. */
  readonly attempt = (context: ExecuteContext): Promise<R> => {
    this.attempts = context.attempt;
    if (context.attempt > 1) this.totalDelayMs += this.#clock.now() - this.#failedAt;
    const sent = this.#host.attempt.run(this.#wire, context);
    if (!this.#retries) return sent;
    // The wait before the next attempt starts when this one fails.
    this.#failed ??= (error: unknown): never => {
      this.#failedAt = this.#clock.now();
      if (this.#sent === this.attempts) this.#answer = error;
      throw error;
    };
    return sent.catch(this.#failed);
  };

  /** Sends one attempt; an error status of a resolved response becomes an `HttpStatusError`. */
  readonly #wire = (context: ExecuteContext): Promise<R> => {
    if (context.attempt > 1) this.#release(); // retried: the previous answer is let go
    this.#sent = context.attempt;
    const attempt = new Attempt(context, this.#key);
    const status = this.#transport.status;
    const sent = this.#send(attempt);
    if (status === undefined) return context.attempt === 1 ? sent : sent.then((response) => this.#retried(response));
    return sent.then((response) => {
      const code = status(response);
      if (code >= 400) throw (this.#statusError = statusError(code, this.#transport.headers?.(response), response));
      return context.attempt === 1 ? response : this.#retried(response);
    });
  };

  /** A response that needed retries carries the details too. */
  #retried(response: R): R {
    attachDetails(response, this.#details());
    return response;
  }

  #details(): ClientDetails {
    const breakerState = this.#host.breaker?.state;
    return {
      host: this.#host.key,
      attempts: this.attempts,
      totalDelayMs: this.totalDelayMs,
      ...(breakerState !== undefined && { breakerState }),
    };
  }

  /** The end of a request that failed: its last response is returned, any other error thrown with details. */
  readonly settle = (error: unknown): R => {
    this.#host.inFlight--;
    let last = isRetryExhaustedError(error) ? error.cause : error;
    const details = this.#details();
    // A retry refused before it went out (breaker, throttle, rate limit): the answer it was to
    // replace, held until now, is the caller's. (Not past the deadline: it aborted that body.)
    if (this.#sent && this.#sent < this.attempts && isOwnRejection(last)) last = this.#answer;
    const failed = this.#statusError;
    const response = failed?.response;
    if (last !== this.#answer) this.#release();
    // The caller owns the last response now: an error kept after the request (the `cause` of an
    // open breaker's rejections) must not keep a response, nor its unread body, alive.
    letGo(failed);
    if (last !== undefined && last === failed) {
      attachDetails(response, details);
      return response!;
    }
    if (!(this.#signal?.aborted && last === this.#signal.reason)) attachDetails(last, details);
    throw last;
  };

  /** Lets go of the held answer: its response (an error status's, or an error's: axios') is released. */
  #release(): void {
    const discard = this.#transport.discard as ((response: unknown) => void) | undefined;
    if (discard) release(discard, this.#answer);
    this.#answer = undefined;
    letGo(this.#statusError);
  }
}

/** Releases the response a failed attempt carries, if any; a release that fails never stops the retry. */
function release(discard: (response: unknown) => void, error: unknown): void {
  const response = (error as { response?: unknown } | null | undefined)?.response;
  if (typeof response !== 'object' || response === null) return;
  try {
    discard(response);
  } catch {
    // Best effort: the response is dropped either way.
  }
}

/** Drops an `HttpStatusError`'s `response`. */
const letGo = (error: HttpStatusError<unknown> | undefined) => {
  if (error) (error as { response: unknown }).response = undefined;
};

/** An `HttpStatusError` without a stack trace: no caller sees it, and capturing one costs more than the rest. */
function statusError<R>(status: number, headers: unknown, response: R): HttpStatusError<R> {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return new HttpStatusError(status, headers, response);
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** The client's rate limiter: `rateLimiter()`'s options, `requestsPerMinute` as a token bucket, a store of 2 × `maxHosts` keys. */
function buildLimiter(options: ClientRateLimitOptions, client: ClientOptions<never>): RateLimiter {
  const { requestsPerMinute, algorithm, ...rest } = options as ClientRateLimitOptions & { requestsPerMinute?: number };
  const v = new OptionsValidator('rateLimit');
  v.check(
    (requestsPerMinute === undefined) !== (algorithm === undefined),
    'requestsPerMinute',
    requestsPerMinute,
    'a number > 0, or an algorithm instead (one of the two)',
  );
  v.number('requestsPerMinute', requestsPerMinute, { gt: 0 });
  v.done();
  return new RateLimiter({
    algorithm: algorithm ?? tokenBucket(perMinute(requestsPerMinute!)),
    store: memoryStore({ maxKeys: 2 * (client.maxHosts ?? CLIENT_DEFAULTS.maxHosts) }),
    ...rest,
    ...(client.clock && { clock: client.clock }),
  });
}

/** The core of an HTTP client adapter: policies per host, and `request(call, send)` (docs/client.md). */
export function resilientClient<N = unknown, R = unknown>(
  options: ClientOptions<N> = {},
  transport: ClientTransport<R> = {},
): ResilientClient<N, R> {
  return new ResilientClient(options, transport);
}
