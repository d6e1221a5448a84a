import { BREAKER_OPTION_NAMES, type CircuitBreakerOptions } from '../breaker/options.js';
import type { Clock, Random } from '../clock/clock.js';
import { checkNested, isPlainObject, type OptionNames, OptionsValidator } from '../errors/validate.js';
import type { MetricsOptions } from '../metrics/options.js';
import { RATE_LIMITER_OPTION_NAMES, type RateLimiterOptions } from '../ratelimit/options.js';
import type { RetryBudget, RetryBudgetOptions } from '../retry/budget.js';
import { RETRY_OPTION_NAMES, type RetryOptions } from '../retry/options.js';
import { type AdaptiveThrottleOptions, THROTTLE_OPTION_NAMES } from '../throttle/options.js';
import { TIMEOUT_OPTION_NAMES, type TimeoutStrategy } from '../timeout/options.js';

/** `retry()`'s options, but for time and randomness (the client's) and the deadline (`deadlineMs`). */
export type ClientRetryOptions = Omit<RetryOptions, 'budget' | 'clock' | 'random' | 'deadlineMs'> & {
  /** A `RetryBudget`'s options (one per host), one to share, or `false`. @default 10 % of requests plus one retry a second */
  budget?: RetryBudget | RetryBudgetOptions | false;
};

/** `rateLimiter()`'s options, with `{ requestsPerMinute }` as a shorthand for a token bucket. */
export type ClientRateLimitOptions = Omit<RateLimiterOptions, 'algorithm' | 'clock'> &
  (
    | { algorithm: RateLimiterOptions['algorithm']; requestsPerMinute?: never }
    | {
        /** A token bucket of this many requests a minute (a burst of as many, refilled continuously). */
        requestsPerMinute: number;
        algorithm?: never;
      }
  );

/** A time limit per attempt: ms, or `timeout()`'s `ms` with its options. */
export type ClientTimeoutOptions = number | { ms: number; strategy?: TimeoutStrategy; name?: string };

/** What an HTTP client adapter takes; `N` is its request (what `idempotent` and `key` receive). */
export interface ClientOptions<N = unknown> {
  /** Retries of what is safe to repeat, on `isRetryableFailure`; `false`: none. @default full jitter, a budget per host */
  retry?: ClientRetryOptions | false;
  /** A circuit breaker per host (docs/client.md). Off by default. */
  breaker?: Omit<CircuitBreakerOptions, 'clock' | 'random' | 'initialState' | 'key'>;
  /** A rate limiter keyed by host, waited for by every attempt (FIFO, up to `maxWaitMs`). Off by default. */
  rateLimit?: ClientRateLimitOptions;
  /** A time limit for each attempt. Off by default. */
  timeout?: ClientTimeoutOptions;
  /** A time limit for the whole request, waits included. Off by default. */
  deadlineMs?: number;
  /** Adaptive throttling per host (Google SRE); `true` for its defaults. Off by default. */
  throttle?: Omit<AdaptiveThrottleOptions, 'clock' | 'random'> | boolean;
  /** Whether a request is safe to retry (else sent once). @default an `IDEMPOTENT_METHODS` method or an `Idempotency-Key` */
  idempotent?: (request: N) => boolean;
  /** Gives a POST or PATCH without an `Idempotency-Key` one (a quoted UUID, on every attempt): safe to retry. @default false */
  idempotencyKey?: boolean;
  /** A metrics collector per host (`true`, or `metrics()`'s options). Off by default. */
  metrics?: MetricsOptions | boolean;
  /** The key a request's policies are kept under. @default the URL's host (`hostKeyOf`) */
  key?: (request: N) => string;
  /** Most hosts (keys) whose policies are kept; which one goes past it: docs/client.md. @default 100 */
  maxHosts?: number;
  /** Stamped on the client's breakers (`<name>:<host>` unless `breaker.name` is given). @default 'http-client' */
  name?: string;
  clock?: Clock;
  /** Jitter, throttling draws and generated keys. @default systemRandom (keys: crypto.randomUUID) */
  random?: Random;
}

/** Every option of a resilient client; any other name is rejected. */
export const CLIENT_OPTION_NAMES = {
  retry: true,
  breaker: true,
  rateLimit: true,
  timeout: true,
  deadlineMs: true,
  throttle: true,
  idempotent: true,
  idempotencyKey: true,
  metrics: true,
  key: true,
  maxHosts: true,
  name: true,
  clock: true,
  random: true,
} as const satisfies OptionNames<ClientOptions>;

/** What a client does without options (docs/client.md). */
export const CLIENT_DEFAULTS = {
  retry: true,
  retryBudget: true,
  breaker: false,
  throttle: false,
  rateLimit: false,
  timeout: false,
  deadlineMs: false,
  idempotencyKey: false,
  metrics: false,
  maxHosts: 100,
  name: 'http-client',
} as const;

/** The client's options that the nested builders read too: a bad one would be reported again under each. */
const SHARED_OPTIONS = ['clock', 'random', 'name'];

/** The timeout option as `timeout()`'s arguments. */
export function timeoutArguments(t: ClientTimeoutOptions): [number, { strategy?: TimeoutStrategy; name?: string }] {
  if (typeof t === 'number') return [t, {}];
  const { ms, ...options } = t;
  return [ms, options];
}

/**
 * Checks the client's own options into `v`, and each nested one by building what it
 * configures with `build`, so one `ConfigurationError` names every bad option, top-level and
 * nested together, nested ones as `retry.maxAttempts`.
 */
export function validateClientOptions(
  options: ClientOptions<never>,
  nested: (o: ClientOptions<never>) => Record<string, () => unknown>,
): void {
  const v = new OptionsValidator('resilient client');
  const o = v.known(options, CLIENT_OPTION_NAMES);
  // `null`, an array or a Map is no options object: it would turn a policy on with its defaults.
  v.check(
    o.retry === undefined || o.retry === false || isPlainObject(o.retry),
    'retry',
    o.retry,
    'retry() options or false',
  );
  v.check(o.breaker === undefined || isPlainObject(o.breaker), 'breaker', o.breaker, 'circuitBreaker() options');
  // Each host's breaker is named `<name>:<host>`: circuitBreaker() never sees this one alone.
  v.string('breaker.name', isPlainObject(o.breaker) ? o.breaker.name : undefined);
  v.check(
    o.rateLimit === undefined || isPlainObject(o.rateLimit),
    'rateLimit',
    o.rateLimit,
    'rateLimiter() options or { requestsPerMinute }',
  );
  v.check(
    o.throttle === undefined || typeof o.throttle === 'boolean' || isPlainObject(o.throttle),
    'throttle',
    o.throttle,
    'adaptiveThrottle() options or a boolean',
  );
  v.check(
    o.metrics === undefined || typeof o.metrics === 'boolean' || isPlainObject(o.metrics),
    'metrics',
    o.metrics,
    'metrics() options or a boolean',
  );
  // What the client gives each policy itself: in a section, another clock or a retries-only deadline, unseen.
  // A section's other unknown names are listed against what it takes: its factory's options but these.
  for (const [section, own, names] of [
    ['retry', ['deadlineMs', 'clock', 'random'], RETRY_OPTION_NAMES],
    ['breaker', ['clock', 'random'], BREAKER_OPTION_NAMES],
    ['throttle', ['clock', 'random'], THROTTLE_OPTION_NAMES],
    ['rateLimit', ['clock'], { ...RATE_LIMITER_OPTION_NAMES, requestsPerMinute: true }],
    ['timeout', ['clock'], { ms: true, ...TIMEOUT_OPTION_NAMES }],
  ] as const) {
    const given: unknown = o[section];
    if (!isPlainObject(given)) continue;
    for (const name of own) {
      if (name in given)
        v.check(
          false,
          `${section}.${name}`,
          given[name],
          `nothing here (${name} is a top-level option, beside ${section})`,
        );
    }
    const takes = Object.fromEntries(
      Object.keys(names).flatMap((n) => ((own as readonly string[]).includes(n) ? [] : [[n, true as const]])),
    );
    v.known(given, takes, section);
  }
  const t = o.timeout;
  v.check(t === undefined || typeof t === 'number' || isPlainObject(t), 'timeout', t, 'ms or { ms, strategy }');
  v.number('deadlineMs', o.deadlineMs, { gt: 0 });
  v.predicate('idempotent', o.idempotent);
  v.boolean('idempotencyKey', o.idempotencyKey);
  v.predicate('key', o.key);
  v.integer('maxHosts', o.maxHosts, { min: 1, max: 2 ** 30 });
  v.string('name', o.name);
  v.clock('clock', o.clock);
  v.predicate('random', o.random);
  // Each nested option is built unless it, or an option every builder reads, is already bad;
  // `deadlineMs` is handed to retry() too, and `timeout: -5` is the option the user wrote.
  const rename = { 'retry.deadlineMs': 'deadlineMs', ...(typeof t === 'number' && { 'timeout.ms': 'timeout' }) };
  for (const [path, build] of Object.entries(nested(o))) checkNested(v, path, build, [...SHARED_OPTIONS, path], rename);
  v.done();
}
