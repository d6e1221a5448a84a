import type { CircuitBreakerPolicy } from '../breaker/breaker.js';
import { circuitBreaker } from '../breaker/breaker.js';
import type { SharedCircuitBreaker } from '../breaker/shared.js';
import type { Clock, Random } from '../clock/clock.js';
import { statusOf } from '../errors/classify.js';
import { NOT_HTTP } from '../errors/markers.js';
import type { Disposer, Subscribe } from '../events/emitter.js';
import { type MetricsCollector, metrics } from '../metrics/metrics.js';
import { copied } from '../metrics/names.js';
import { observe } from '../metrics/observe.js';
import type { MetricsOptions } from '../metrics/options.js';
import type { PipelineLayer } from '../pipeline/options.js';
import { Pipeline } from '../pipeline/pipeline.js';
import type { PolicyEvent } from '../policy/policy.js';
import type { RateLimitEvent, RateLimiter } from '../ratelimit/limiter.js';
import { backoff } from '../retry/backoff.js';
import { isRetryBudget, RetryBudget, type RetryBudgetOptions } from '../retry/budget.js';
import { type RetryPolicy, retry } from '../retry/retry.js';
import { type AdaptiveThrottlePolicy, adaptiveThrottle } from '../throttle/throttle.js';
import { type TimeoutPolicy, timeout } from '../timeout/timeout.js';
import { isRetryableFailure } from './decisions.js';
import { CLIENT_DEFAULTS, type ClientOptions, timeoutArguments } from './options.js';

/**
 * What counts against a host (its breaker and throttle): what `isRetryableFailure` retries, a
 * 5xx it does not (Anthropic's 529 overloaded, Cloudflare's 52x: the origin down), but 501 and
 * 505 (the request, not the host), or an answer that is no HTTP (`NOT_HTTP`, on the error or
 * its causes).
 */
function isHostFailure(error: unknown): boolean {
  const status = statusOf(error) ?? 0;
  if (status >= 500 && status !== 501 && status !== 505) return true;
  for (let e = error as { code?: unknown; cause?: unknown } | null, i = 0; e && i < 5; i++, e = e.cause as typeof e)
    if (NOT_HTTP.test(e.code as string)) return true;
  return isRetryableFailure(error);
}

/** The policies of one host (or `key`): `client.host('api.openai.com')?.breaker?.state`. */
export class HostPolicies {
  readonly key: string;
  /** Absent when `retry: false`. */
  readonly retry: RetryPolicy | undefined;
  readonly budget: RetryBudget | undefined;
  readonly breaker: CircuitBreakerPolicy | SharedCircuitBreaker | undefined;
  readonly throttle: AdaptiveThrottlePolicy | undefined;
  /** The time limit of each attempt. */
  readonly timeout: TimeoutPolicy | undefined;
  /** The time limit of a whole request. */
  readonly deadline: TimeoutPolicy | undefined;
  readonly metrics: MetricsCollector | undefined;
  // @internal Requests in flight: while any is, the host is not dropped (their outcomes would go to a breaker, a budget no longer kept).
  inFlight = 0;
  // @internal A request's success: one fewer in flight.
  readonly ended = <T>(value: T): T => {
    this.inFlight--;
    return value;
  };
  // @internal Runs a request that may be retried: deadline, then retry.
  readonly withRetry: Pipeline;
  // @internal Runs a request sent once: deadline only.
  readonly once: Pipeline;
  // @internal Runs one attempt: breaker, throttle, rate limit, attempt timeout.
  readonly attempt: Pipeline;
  readonly #layers: readonly PipelineLayer[];
  readonly #drop: (() => void) | undefined;
  /** The subscriptions to drop on `dispose`; one that is disposed before leaves it. */
  readonly #disposers = new Set<Disposer>();

  // @internal
  constructor(key: string, parts: HostParts) {
    this.key = key;
    const { retry, budget, breaker, throttle, timeout, deadline } = parts.policies;
    this.retry = retry;
    this.budget = budget;
    this.breaker = breaker;
    this.throttle = throttle;
    this.timeout = timeout;
    this.deadline = deadline;
    const present = <T>(...list: (T | undefined)[]) => list.filter((p): p is T => p !== undefined);
    this.#drop = parts.limiter?.drop;
    const attempt = present<PipelineLayer>(breaker, throttle, parts.limiter, timeout);
    this.attempt = new Pipeline(attempt);
    this.once = new Pipeline(present<PipelineLayer>(deadline));
    this.withRetry = new Pipeline(present<PipelineLayer>(deadline, retry));
    this.#layers = present<PipelineLayer>(deadline, retry, ...attempt);
    this.metrics = parts.metrics;
    if (parts.metrics !== undefined) {
      for (const source of [this.withRetry, this.once, this.attempt])
        this.#disposers.add(observe(source, parts.metrics));
    }
  }

  /** Every event of the host's policies; returns a disposer. */
  readonly onEvent: Subscribe<PolicyEvent> = (listener) => {
    const disposers = this.#layers.map((layer) => layer.onEvent(listener as (event: PolicyEvent) => void));
    const dispose = () => {
      this.#disposers.delete(dispose);
      for (const d of disposers) d();
    };
    this.#disposers.add(dispose);
    return dispose;
  };

  // @internal Unsubscribes everything and takes the breaker out of the registry; `evicted`: past maxHosts.
  dispose(evicted?: boolean): void {
    if (evicted) this.#drop?.();
    for (const d of this.#disposers) d();
    this.#disposers.clear();
    this.breaker?.dispose();
    this.timeout?.dispose();
    this.deadline?.dispose();
  }
}

interface HostParts {
  readonly policies: Pick<HostPolicies, 'retry' | 'budget' | 'breaker' | 'throttle' | 'timeout' | 'deadline'>;
  readonly limiter: (PipelineLayer & { drop(): void }) | undefined;
  readonly metrics: MetricsCollector | undefined;
}

/**
 * The `retry`, `breaker`, `throttle`, `timeout`, `deadlineMs` and `metrics` options as one
 * host's policies. Each builder is also run once at construction to validate its options.
 */
export class HostBuilder {
  readonly #options: ClientOptions<never>;
  readonly #limiter: RateLimiter | undefined;

  constructor(options: ClientOptions<never>, limiter: RateLimiter | undefined) {
    this.#options = options;
    this.#limiter = limiter;
  }

  // Read when a policy is built, not here: the builders run after the options are checked.
  get #clock(): Clock | undefined {
    return this.#options.clock;
  }
  get #random(): Random | undefined {
    return this.#options.random;
  }

  /** The builders of the nested options, by option name, for validation. */
  get builders(): Record<string, () => unknown> {
    return {
      // The budget's options go to retry(), which names them `budget.ratio`.
      retry: () => {
        const budget = this.#options.retry === false ? undefined : this.#options.retry?.budget;
        return this.retry(budget === false ? undefined : budget);
      },
      breaker: () => this.breaker('validation', false),
      throttle: () => this.throttle(),
      timeout: () => this.timeout(),
      metrics: () => this.metrics(),
    };
  }

  build(key: string): HostPolicies {
    const budget = this.budget();
    const breaker = this.breaker(key, undefined);
    return new HostPolicies(key, {
      policies: {
        retry: this.retry(budget, breaker),
        budget,
        breaker,
        throttle: this.throttle(),
        timeout: this.timeout(),
        deadline: this.#options.deadlineMs === undefined ? undefined : this.#deadline(this.#options.deadlineMs),
      },
      limiter: this.#limiterLayer(key),
      metrics: this.metrics(),
    });
  }

  budget(): RetryBudget | undefined {
    const r = this.#options.retry;
    if (r === false) return undefined;
    const b = r?.budget;
    if (b === false) return undefined;
    if (isRetryBudget(b)) return b;
    return new RetryBudget({ ...b, ...(this.#clock && { clock: this.#clock }) });
  }

  retry(
    budget: RetryBudget | RetryBudgetOptions | undefined,
    breaker?: CircuitBreakerPolicy | SharedCircuitBreaker,
  ): RetryPolicy | undefined {
    const r = this.#options.retry;
    if (r === false) return undefined;
    const { budget: _, handle = isRetryableFailure, ...rest } = r ?? {};
    return retry({
      ...rest,
      // Full jitter: callers whose requests failed together do not come back together.
      backoff: rest.backoff ?? backoff.exponential({ jitter: 'full' }),
      // Not while the host's breaker is open (this request's failures may have opened it): the
      // retry it would refuse is not tried, so the answer that failed is the caller's, not a
      // `BrokenCircuitError` (a 429's `insufficient_quota` read by the SDK, a 503's body).
      // (Validated before: `builders` passes no breaker.)
      handle: breaker ? (error) => handle(error) && !/^(open|isolated)$/.test(breaker.state) : handle,
      ...(budget !== undefined && { budget }),
      ...(this.#options.deadlineMs !== undefined && { deadlineMs: this.#options.deadlineMs }),
      ...(this.#clock && { clock: this.#clock }),
      ...(this.#random && { random: this.#random }),
    });
  }

  breaker(key: string, registry: false | undefined): CircuitBreakerPolicy | SharedCircuitBreaker | undefined {
    const b = this.#options.breaker;
    if (b === undefined) return undefined;
    const name = `${b.name ?? this.#options.name ?? CLIENT_DEFAULTS.name}:${key}`;
    return circuitBreaker({
      handle: isHostFailure,
      ...b,
      name,
      ...(registry === false && { registry }),
      ...(this.#clock && { clock: this.#clock }),
      ...(this.#random && { random: this.#random }),
    } as Parameters<typeof circuitBreaker>[0]);
  }

  throttle(): AdaptiveThrottlePolicy | undefined {
    const t = this.#options.throttle;
    if (t === undefined || t === false) return undefined;
    return adaptiveThrottle({
      overloaded: isHostFailure,
      ...(t === true ? {} : t),
      ...(this.#clock && { clock: this.#clock }),
      ...(this.#random && { random: this.#random }),
    });
  }

  timeout(): TimeoutPolicy | undefined {
    const t = this.#options.timeout;
    if (t === undefined) return undefined;
    const [ms, options] = timeoutArguments(t);
    return timeout(ms, { ...options, ...(this.#clock && { clock: this.#clock }) });
  }

  metrics(): MetricsCollector | undefined {
    const m = this.#options.metrics;
    if (m === undefined || m === false) return undefined;
    return metrics({ ...(m === true ? {} : (m as MetricsOptions)), ...(this.#clock && { clock: this.#clock }) });
  }

  #deadline(ms: number): TimeoutPolicy {
    return timeout(ms, { name: 'deadline', ...(this.#clock && { clock: this.#clock }) });
  }

  /**
   * The shared limiter as one host's layer: consumes the host's key, reports the host's events
   * only. `drop()` (the host evicted) forgets the key in the client's own store, also after a
   * request then still in flight takes from it: that store holds kept hosts' quotas only, so its
   * own eviction never reaches one.
   */
  #limiterLayer(key: string): (PipelineLayer & { drop(): void }) | undefined {
    const limiter = this.#limiter;
    if (limiter === undefined) return undefined;
    let gone = false;
    const forget = () => void limiter.reset(key);
    const policy = limiter.policy({ key });
    const take = policy.run;
    // A request to a dropped host forgets the key as soon as it is admitted: nothing waits between.
    const run: PipelineLayer['run'] = (fn, context) =>
      take(
        gone
          ? (c) => {
              forget();
              return fn(c);
            }
          : fn,
        context,
      );
    const onEvent: Subscribe<RateLimitEvent> = (listener) =>
      policy.onEvent((event) => (event.key === key ? listener(event) : undefined));
    const drop = () => {
      gone = this.#options.rateLimit?.store === undefined;
      if (gone) forget();
    };
    return { ...policy, run, onEvent, drop };
  }
}

/**
 * The host dropped past `maxHosts`: the least recently used whose breaker is closed (or that has
 * none), whose throttle sheds nothing and whose rate limit admits, among the SCANNED oldest: one
 * with no request in flight, else the one with the fewest; else the oldest. Dropped policies are
 * rebuilt fresh, so an open (half-open, isolated) breaker, a shedding throttle or a spent quota is
 * kept: requests to many new hosts (URLs an attacker chooses) must not let traffic back onto a host
 * that is down or out of quota. A host in flight is kept while another can go: its requests'
 * failures (and retries) would count in a breaker (and budget) no longer kept.
 */
function victim(hosts: Map<string, HostPolicies>, spent?: (key: string) => boolean): [string, HostPolicies] {
  let oldest: [string, HostPolicies] | undefined;
  let busy: [string, HostPolicies] | undefined;
  let scanned = 0;
  for (const entry of hosts) {
    const { breaker, throttle } = entry[1];
    const state = breaker?.state;
    if (
      (state === undefined || state === 'closed') &&
      !(throttle && throttle.stats.probability > 0) &&
      !spent?.(entry[0])
    ) {
      const n = entry[1].inFlight;
      if (n === 0) return entry;
      if (busy === undefined || n < busy[1].inFlight) busy = entry;
    }
    oldest ??= entry;
    if (++scanned === SCANNED) break;
  }
  return busy ?? oldest!;
}

/**
 * A key as kept: past 256 characters (no DNS name is longer than 253), cut. A URL or `key()` an
 * attacker makes up cannot make each kept host hold, and each new one copy, kilobytes.
 */
const fit = (key: string): string => (key.length > 256 ? key.slice(0, 256) : key);

/** How many of the least recently used hosts are looked at for one to drop: the cost stays bounded. */
const SCANNED = 32;

/**
 * The hosts' policies, at most `maxHosts`: past it the least recently used host that `victim`
 * lets go is dropped (a Map keeps insertion order; a host is moved to the end when used, unless
 * it already is). Keys are kept `fit`.
 */
export class HostMap {
  readonly #hosts = new Map<string, HostPolicies>();
  readonly #max: number;
  readonly #build: (key: string) => HostPolicies;
  readonly #added: (host: HostPolicies) => void;
  readonly #dropped: (host: HostPolicies) => void;
  readonly #spent: ((key: string) => boolean) | undefined;
  #last: string | undefined;

  /**
   * `added` and `dropped` are told of each host built, and of each evicted or cleared (after its
   * `dispose`); `spent(key)`: the host's rate limit refuses now.
   */
  constructor(
    max: number,
    build: (key: string) => HostPolicies,
    added: (host: HostPolicies) => void,
    dropped: (host: HostPolicies) => void,
    spent?: (key: string) => boolean,
  ) {
    this.#spent = spent;
    this.#max = max;
    this.#build = build;
    this.#added = added;
    this.#dropped = dropped;
  }

  /** The host's policies, built on first use; marks the host as the most recently used. */
  get(key: string): HostPolicies {
    key = fit(key);
    const hosts = this.#hosts;
    let host = hosts.get(key);
    if (host !== undefined) {
      if (key !== this.#last) {
        hosts.delete(key);
        hosts.set(key, host);
        this.#last = key;
      }
      return host;
    }
    key = copied(key); // kept: not a slice of the request's URL
    host = this.#build(key);
    if (hosts.size >= this.#max) {
      const [oldest, evicted] = victim(hosts, this.#spent);
      hosts.delete(oldest);
      evicted.dispose(true);
      this.#dropped(evicted);
    }
    hosts.set(key, host);
    this.#last = key;
    this.#added(host);
    return host;
  }

  /** The host's policies if kept, without marking it used. */
  peek(key: string): HostPolicies | undefined {
    return this.#hosts.get(fit(key));
  }

  keys(): string[] {
    return [...this.#hosts.keys()];
  }

  values(): IterableIterator<HostPolicies> {
    return this.#hosts.values();
  }

  clear(): void {
    const hosts = [...this.#hosts.values()];
    this.#hosts.clear();
    for (const host of hosts) {
      host.dispose();
      this.#dropped(host);
    }
    this.#last = undefined;
  }
}
