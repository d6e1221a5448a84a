import { runInNewContext } from 'node:vm';
import { describe, expect, expectTypeOf, it, vi } from 'vitest';
import { circuitBreaker } from '../breaker/breaker.js';
import { countWindow } from '../breaker/strategy.js';
import { timeWindow } from '../breaker/time-window.js';
import { bulkhead } from '../bulkhead/bulkhead.js';
import { chaos } from '../chaos/chaos.js';
import { fallback } from '../fallback/fallback.js';
import { hedge } from '../hedging/hedge.js';
import { rateLimiter } from '../ratelimit/limiter.js';
import { backoff } from '../retry/backoff.js';
import { retry } from '../retry/retry.js';
import { adaptiveThrottle } from '../throttle/throttle.js';
import { timeout } from '../timeout/timeout.js';
import {
  BrokenCircuitError,
  BulkheadRejectedError,
  type ConfigurationError,
  IdempotencyConflictError,
  IsolatedCircuitError,
  isBrokenCircuitError,
  isConfigurationError,
  isOwnRejection,
  isRequestTimeoutError,
  isResilienceError,
  isStoreUnavailableError,
  isTimeoutError,
  RateLimitExceededError,
  RequestTimeoutError,
  ResilienceError,
  type ResilienceErrorCode,
  RetryExhaustedError,
  StoreUnavailableError,
  TimeoutError,
} from './errors.js';
import { type OptionNames, OptionsValidator } from './validate.js';

describe('ResilienceError', () => {
  it('has a stable code, a name and a cause', () => {
    const cause = new Error('last');
    const error = new RetryExhaustedError(4, cause);
    expect(error.code).toBe('retry_exhausted');
    expect(error.name).toBe('RetryExhaustedError');
    expect(error.cause).toBe(cause);
    expect(error.attempts).toBe(4);
    expect(error).toBeInstanceOf(Error);
  });

  it('says in RetryExhaustedError’s message what failed last, whatever was thrown', () => {
    expect(new RetryExhaustedError(3, Object.assign(new Error('HTTP 503'), { status: 503 })).message).toBe(
      'Gave up after 3 attempt(s), no attempts left: HTTP 503',
    );
    expect(new RetryExhaustedError(2, new Error('HTTP 429'), 'deadline').message).toBe(
      'Gave up after 2 attempt(s), the next wait would pass the deadline: HTTP 429',
    );
    expect(new RetryExhaustedError(1, 'plain text').message).toMatch(/: plain text$/);
    expect(new RetryExhaustedError(1, { message: 'a plain object' }).message).toMatch(/: a plain object$/);
    expect(new RetryExhaustedError(1, Object.create(null)).message).toMatch(/: \[object without a message\]$/);
  });

  it('lets BrokenCircuitError carry a cause', () => {
    const cause = new Error('HTTP 503');
    expect(new BrokenCircuitError('open', 10, 'circuit_open', { cause }).cause).toBe(cause);
    expect('cause' in new BrokenCircuitError('open', 10)).toBe(false);
  });

  it('is recognised by code even when the class comes from another copy of the package', async () => {
    vi.resetModules(); // a second instance of the module: classes of their own, as a second install has
    const copy = await import('./errors.js');
    const foreign = new copy.TimeoutError(10);
    expect(foreign).not.toBeInstanceOf(TimeoutError);
    expect(isResilienceError(foreign, 'timeout')).toBe(true);
    expect(copy.isResilienceError(new TimeoutError(10), 'timeout')).toBe(true);
    expect(isResilienceError(Object.assign(new Error('x'), { code: 'timeout' }))).toBe(false);
  });

  it('answers false for a thrown value whose reads throw (a revoked Proxy, a throwing trap), as every is…Error guard does', () => {
    const revoked = Proxy.revocable(new TimeoutError(10), {});
    revoked.revoke();
    const trapped = new Proxy(new TimeoutError(10), {
      has() {
        throw new Error('has');
      },
    });
    for (const value of [revoked.proxy, trapped]) {
      expect(isResilienceError(value)).toBe(false);
      expect(isStoreUnavailableError(value)).toBe(false);
    }
  });

  it('narrows to the class of the code it is asked for, so its own fields read without a cast', () => {
    const caught: unknown = new BulkheadRejectedError(4, 0, 1_500);
    if (isResilienceError(caught, 'bulkhead_full')) {
      expectTypeOf(caught).toEqualTypeOf<BulkheadRejectedError>();
      expect(caught.retryAfterMs).toBe(1_500);
    } else expect.unreachable();
    const other: unknown = new StoreUnavailableError('down');
    if (!isResilienceError(other)) throw other;
    expectTypeOf(other.code).toEqualTypeOf<ResilienceErrorCode>();
    // Ruling one code out leaves the others: no class is the base's shape under another name.
    if (isResilienceError(other, 'store_full')) expect.unreachable();
    else expectTypeOf(other.code).toEqualTypeOf<ResilienceErrorCode>();
    const thrown: unknown = new TimeoutError(5);
    if (thrown instanceof ResilienceError) expectTypeOf(thrown.code).toEqualTypeOf<ResilienceErrorCode>();
    const limit = new TimeoutError(5) as TimeoutError | RequestTimeoutError;
    if (!isResilienceError(limit, 'timeout')) expectTypeOf(limit).toEqualTypeOf<RequestTimeoutError>();
    const conflict: unknown = new IdempotencyConflictError('in_flight');
    if (isResilienceError(conflict, 'in_flight')) {
      expectTypeOf(conflict.code).toEqualTypeOf<'in_flight' | 'fingerprint_mismatch'>();
      expect(conflict.code).toBe('in_flight');
    } else expect.unreachable();
    expectTypeOf(new IsolatedCircuitError().code).toEqualTypeOf<'circuit_open' | 'circuit_isolated'>();
  });

  it('StoreUnavailableError says which store failed, keeps the cause and has the code store_unavailable', () => {
    const cause = new Error('connect ECONNREFUSED 127.0.0.1:6379');
    const error = new StoreUnavailableError('redisStore: apply of ratelimit.gcra failed', { cause });
    expect([error.code, error.name, error.message, error.cause]).toEqual([
      'store_unavailable',
      'StoreUnavailableError',
      'redisStore: apply of ratelimit.gcra failed',
      cause,
    ]);
    expect(isStoreUnavailableError(error)).toBe(true);
    expect(isStoreUnavailableError(cause)).toBe(false);
    expect(isOwnRejection(error)).toBe(false);
  });

  it('treats isolated circuits as broken circuits and knows the toolkit’s own rejections', () => {
    expect(isBrokenCircuitError(new IsolatedCircuitError())).toBe(true);
    expect(new IsolatedCircuitError().code).toBe('circuit_isolated');
    expect(isOwnRejection(new BrokenCircuitError('open', 10))).toBe(true);
    expect(isOwnRejection(new RateLimitExceededError(10))).toBe(true);
    expect(isOwnRejection(new TimeoutError(10))).toBe(false);
  });

  it('tells a request timeout (a server giving up on a request) from an upstream TimeoutError', () => {
    const request = new RequestTimeoutError(5_000);
    expect([request.code, request.name, request.timeoutMs]).toEqual(['request_timeout', 'RequestTimeoutError', 5_000]);
    expect(request.message).toBe('Request timed out after 5000 ms');
    expect(isRequestTimeoutError(request)).toBe(true);
    expect(isTimeoutError(request)).toBe(false);
    expect(isRequestTimeoutError(new TimeoutError(5_000))).toBe(false);
    expect(isOwnRejection(request)).toBe(false);
  });

  it('gives BulkheadRejectedError the wait a retry should take', () => {
    expect(new BulkheadRejectedError(4, 0, 1_500).retryAfterMs).toBe(1_500);
    expect(new BulkheadRejectedError(4, 0).retryAfterMs).toBe(0);
  });
});

describe('OptionsValidator', () => {
  it('reports every bad option at once, with what was received and what is allowed', () => {
    const v = new OptionsValidator('widget');
    v.integer('count', 1.5, { min: 1 });
    v.number('ratio', -1, { min: 0, max: 1 });
    v.oneOf('mode', 'fast', ['slow', 'safe']);
    v.function('onDone', 42);
    v.integer('ok', 3, { min: 1 });
    let error: unknown;
    try {
      v.done();
    } catch (e) {
      error = e;
    }
    expect(isConfigurationError(error)).toBe(true);
    const config = error as ConfigurationError;
    expect(config.issues.map((i) => i.option)).toEqual(['count', 'ratio', 'mode', 'onDone']);
    expect(config.message).toContain('Invalid widget options');
    expect(config.message).toContain('count: received 1.5, expected an integer >= 1');
    expect(config.message).toContain('mode: received "fast", expected one of "slow", "safe"');
  });

  it('shows a number that is not finite as written, not as JSON’s null', () => {
    const v = new OptionsValidator('widget').number('ms', Number.NaN).number('deadlineMs', Number.POSITIVE_INFINITY);
    v.integer('max', Number.NEGATIVE_INFINITY);
    expect(() => v.done()).toThrow(
      'ms: received NaN, expected a finite number; deadlineMs: received Infinity, expected a finite number; max: received -Infinity',
    );
  });

  it('never shows a class instance’s insides or a secret-looking field, and at most 200 characters', () => {
    class Redis {
      options = { host: '10.0.0.5', password: 'hunter2' };
    }
    const v = new OptionsValidator('widget');
    v.check(false, 'store', new Redis(), 'a Store');
    v.check(false, 'client', { host: 'db', auth: { user: 'u', pass: 'hunter2' }, apiToken: 'hunter2' }, 'a client');
    v.check(false, 'name', 'x'.repeat(500), 'a short name');
    v.check(false, 'list', ['SIGFOO'], 'signals');
    let message = '';
    try {
      v.done();
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).not.toContain('hunter2');
    expect(message).toContain('store: received a Redis, expected a Store');
    expect(message).toContain('client: received {"host":"db","auth":"…","apiToken":"…"}, expected a client');
    expect(message).toContain(`name: received "${'x'.repeat(199)}…, expected a short name`);
    expect(message).toContain('list: received ["SIGFOO"], expected signals');
  });

  it('names a received class instance with the article it takes, and shows a plain object of another realm as one', () => {
    const message = (value: unknown) => {
      try {
        new OptionsValidator('widget').check(false, 'x', value, 'y').done();
      } catch (error) {
        return (error as Error).message;
      }
    };
    const nameless = new (class {})();
    Object.defineProperty(Object.getPrototypeOf(nameless), 'constructor', { value: undefined });
    const received: [unknown, string][] = [
      [new AbortController(), 'an AbortController'],
      [new Error('boom'), 'an Error'],
      [Object.create({ inherited: 1 }), 'an Object'],
      [new Uint8Array(1), 'a Uint8Array'],
      [new URL('http://127.0.0.1/'), 'a URL'],
      [new Map(), 'a Map'],
      [nameless, 'an object'],
      [runInNewContext('({ maxAttempts: 3 })'), '{"maxAttempts":3}'],
      [runInNewContext('[1, 2]'), '[1,2]'],
    ];
    for (const [value, shown] of received)
      expect(message(value)).toBe(`Invalid widget options: x: received ${shown}, expected y`);
    expect(() => retry({ backoff: new EventTarget() as never })).toThrow('backoff: received an EventTarget');
  });

  it('accepts an injected clock only when it has every Clock method', () => {
    const clock = { now: () => 0, sleep: async () => {}, setTimeout: () => 1, clearTimeout: () => {} };
    expect(() => new OptionsValidator('widget').clock('clock', clock).done()).not.toThrow();
    expect(() => new OptionsValidator('widget').clock('clock', { now: () => 0 }).done()).toThrow(/clock: .*a Clock/);
    expect(() => new OptionsValidator('widget').clock('clock', 'system').done()).toThrow(/clock/);
  });

  it('passes undefined optional values and fails a missing required one', () => {
    const v = new OptionsValidator('widget').number('maybe', undefined).integer('n', undefined);
    expect(() => v.done()).not.toThrow();
    expect(() => new OptionsValidator('widget').required('limit', undefined).done()).toThrow(/limit/);
  });

  describe('known', () => {
    interface Widget {
      size?: number;
      timeoutMs?: number;
      label: string;
    }
    const NAMES = { size: true, timeoutMs: true, label: true } as const satisfies OptionNames<Widget>;
    const issues = (build: (v: OptionsValidator) => unknown) => {
      const v = new OptionsValidator('widget');
      build(v);
      try {
        v.done();
        return [];
      } catch (error) {
        return (error as ConfigurationError).issues.map((i) => `${i.option}: ${i.allowed}`);
      }
    };

    it('returns a copy of the options (each read once), or {} for undefined, and reports nothing when every name is known', () => {
      const options: Widget = { size: 1, label: 'x' };
      const v = new OptionsValidator('widget');
      const copy = v.known(options, NAMES);
      expect(copy).toEqual(options);
      expect(copy).not.toBe(options);
      expect(v.known(undefined, NAMES)).toEqual({});
      expect(v.known(Object.assign(Object.create(null), { size: 2 }), NAMES)).toEqual({ size: 2 });
      expect(() => v.done()).not.toThrow();
    });

    it('reports each unknown name, suggesting the one a typo meant, and lists the known ones once', () => {
      const found = issues((v) => v.known({ label: 'x', sise: 1, timeout: 5, colour: 'red' } as Widget, NAMES));
      expect(found).toEqual([
        'sise: a known option (did you mean size?): size, timeoutMs, label',
        'timeout: a known option (did you mean timeoutMs?)',
        'colour: a known option',
      ]);
    });

    it('prefers the name a key starts like over one fewer edits away', () => {
      // `retrying` is 3 edits from `retry` and from `metrics`, but starts as `retry` does
      const names = { retry: true, metrics: true } as const;
      const found = issues((v) => v.known({ retrying: 3 } as { retry?: number; metrics?: number }, names));
      expect(found).toEqual(['retrying: a known option (did you mean retry?): retry, metrics']);
    });

    it("points another library's option name to what says the same here, not to a name that looks like it", () => {
      const names = { algorithm: true, limiter: true, halfOpenAfter: true } as const;
      const found = issues((v) => v.known({ windowMs: 60_000, limit: 100, resetTimeout: 5 } as object, names));
      expect(found).toEqual([
        "windowMs: a known option (another library's? here: algorithm: fixedWindow({ limit, windowMs })): algorithm, limiter, halfOpenAfter",
        "limit: a known option (another library's? here: algorithm: fixedWindow({ limit, windowMs }))",
        "resetTimeout: a known option (another library's? here: halfOpenAfter)",
      ]);
      // Its own option of that name is no stranger.
      expect(issues((v) => v.known({ limit: 1 }, { limit: true }))).toEqual([]);
    });

    it("points loadShedding's and p-limit's names for a concurrency limit to a bulkhead's", () => {
      const names = { limit: true, queue: true } as const;
      expect(issues((v) => v.known({ maxConcurrent: 4, concurrency: 4 } as object, names))).toEqual([
        "maxConcurrent: a known option (another library's? here: limit): limit, queue",
        "concurrency: a known option (another library's? here: limit)",
      ]);
    });

    it("gives the first of another library's hints whose option is one of these", () => {
      // rate-limiter-flexible's points: a limiter's algorithm, a window's limit, a bucket's capacity.
      const hintOf = (names: Record<string, true>) => issues((v) => v.known({ points: 5 } as object, names))[0];
      expect(hintOf({ algorithm: true, limit: true })).toContain('here: algorithm: fixedWindow({ limit, windowMs }))');
      expect(hintOf({ limit: true, windowMs: true })).toContain("(another library's? here: limit)");
      expect(hintOf({ capacity: true })).toContain("(another library's? here: capacity)");
      expect(hintOf({ size: true })).toBe('points: a known option: size');
      // A hint may be given for an option it does not name: opossum's timeout, to a breaker.
      expect(issues((v) => v.known({ timeout: 5 } as object, { halfOpenAfter: true }))).toEqual([
        "timeout: a known option (another library's? here: pipeline(breaker, timeout(ms))): halfOpenAfter",
      ]);
    });

    it.each([
      [
        'duration',
        "algorithm: fixedWindow({ limit, windowMs }): windowMs in ms, rate-limiter-flexible's duration in s",
      ],
      ['id', 'key'],
      ['driver', 'store'],
      ['passOnStoreError', 'onStoreError'],
      ['identifier', 'name'],
    ])("points koa-ratelimit's and express-rate-limit's %s to %s", (option, hint) => {
      const names = {
        algorithm: true,
        key: true,
        skip: true,
        store: true,
        headers: true,
        onStoreError: true,
        name: true,
      } as const;
      expect(issues((v) => v.known({ [option]: 1 } as object, names))[0]).toContain(
        `(another library's? here: ${hint})`,
      );
    });

    it.each([
      ['idempotencyKeyHeader', 'header'],
      ['dataAdapter', 'store'],
      ['processingTimeout', 'lockTimeoutMs'],
      ['responseValidator', 'recordServerErrors'],
    ])("points express-idempotency's %s to %s", (option, hint) => {
      const names = { header: true, store: true, lockTimeoutMs: true, recordServerErrors: true } as const;
      expect(issues((v) => v.known({ [option]: 1 } as object, names))[0]).toContain(
        `(another library's? here: ${hint})`,
      );
    });

    const PACE = 'rateLimiter({ algorithm: gcra({ limit: 1, periodMs: minTime }) })';
    const RESERVOIR = 'rateLimiter({ algorithm: fixedWindow or tokenBucket })';
    it.each([
      ['retry', 'minTimeout', () => retry({ minTimeout: 1_000 } as never), 'backoff.exponential({ initialMs })'],
      ['retry', 'maxRetryTime', () => retry({ maxRetryTime: 1_000 } as never), 'deadlineMs'],
      ['retry', 'shouldRetry', () => retry({ shouldRetry: () => true } as never), 'handle'],
      [
        'retry',
        'onFailedAttempt',
        () => retry({ onFailedAttempt: () => {} } as never),
        'onRetry (before each retry); policy.onFailure hears the last failure too',
      ],
      [
        'circuitBreaker',
        'volumeThreshold',
        () => circuitBreaker({ volumeThreshold: 5 } as never),
        'strategy: timeWindow({ minimumCalls })',
      ],
      [
        'circuitBreaker',
        'errorThresholdPercentage',
        () => circuitBreaker({ errorThresholdPercentage: 50 } as never),
        'strategy: timeWindow({ failureRate: % / 100 })',
      ],
      ['retry', 'factor', () => retry({ factor: 2 } as never), 'backoff.exponential({ multiplier })'],
      ['retry', 'maxTimeout', () => retry({ maxTimeout: 1_000 } as never), 'backoff.exponential({ maxMs })'],
      // Ported into the schedule the hints above point to, p-retry's names are told of its own.
      ['backoff.exponential', 'minTimeout', () => backoff.exponential({ minTimeout: 1_000 } as never), 'initialMs'],
      ['backoff.exponential', 'factor', () => backoff.exponential({ factor: 2 } as never), 'multiplier'],
      ['backoff.exponential', 'maxTimeout', () => backoff.exponential({ maxTimeout: 1_000 } as never), 'maxMs'],
      ['backoff.exponential', 'randomize', () => backoff.exponential({ randomize: true } as never), 'jitter'],
      // opossum's errorFilter says what is NOT a failure, our handle what is: a bare rename
      // (`handle: isNotFound`) would open the breaker on 404s alone.
      [
        'circuitBreaker',
        'errorFilter',
        () => circuitBreaker({ errorFilter: () => true } as never),
        'handle, with the test inverted',
      ],
      [
        'rateLimiter',
        'points',
        () => rateLimiter({ points: 10 } as never),
        'algorithm: fixedWindow({ limit, windowMs })',
      ],
      // rate-limiter-flexible's duration counts seconds: ported as it is (windowMs: 60), a
      // limit per minute would become one per 60 ms.
      [
        'rateLimiter',
        'duration',
        () => rateLimiter({ points: 10, duration: 60 } as never),
        "algorithm: fixedWindow({ limit, windowMs }): windowMs in ms, rate-limiter-flexible's duration in s",
      ],
    ])("%s points p-retry's, opossum's and rate-limiter-flexible's %s to its own name", (_, option, build, hint) => {
      expect(build).toThrow(`${option}: received`);
      expect(build).toThrow(`(another library's? here: ${hint})`);
    });

    it.each<[string, string, () => unknown, string]>([
      // bottleneck's pacing and reservoir, which a bulkhead (its maxConcurrent) does not do: a limiter does.
      ['bulkhead', 'minTime', () => bulkhead({ limit: 1, minTime: 100 } as never), PACE],
      ['rateLimiter', 'minTime', () => rateLimiter({ minTime: 100 } as never), PACE],
      ...[
        'reservoir',
        'reservoirRefreshAmount',
        'reservoirRefreshInterval',
        'reservoirIncreaseAmount',
        'reservoirIncreaseInterval',
        'reservoirIncreaseMaximum',
      ].flatMap((option): [string, string, () => unknown, string][] => [
        ['bulkhead', option, () => bulkhead({ limit: 1, [option]: 1 } as never), RESERVOIR],
        ['rateLimiter', option, () => rateLimiter({ [option]: 1 } as never), RESERVOIR],
      ]),
      // opossum aborts its abortController on a timeout; here the function's own signal is aborted.
      [
        'circuitBreaker',
        'abortController',
        () => circuitBreaker({ abortController: new AbortController() } as never),
        'fn gets { signal }, aborted by timeout()',
      ],
    ])("%s points bottleneck's and opossum's %s to what takes its place", (_, option, build, hint) => {
      expect(build).toThrow(`${option}: received`);
      expect(build).toThrow(`(another library's? here: ${hint})`);
    });

    it.each([
      // cockatiel's CountBreaker and SamplingBreaker, ported into our windows.
      ['countWindow', 'threshold', () => countWindow({ threshold: 0.5, size: 4 } as never), 'failureRate'],
      ['timeWindow', 'threshold', () => timeWindow({ threshold: 0.5, windowMs: 1 } as never), 'failureRate'],
      ['countWindow', 'minimumNumberOfCalls', () => countWindow({ minimumNumberOfCalls: 2 } as never), 'minimumCalls'],
      // A rate there, a count in the window here.
      [
        'timeWindow',
        'minimumRps',
        () => timeWindow({ minimumRps: 5 } as never),
        'minimumCalls, a count: minimumRps * windowMs / 1000',
      ],
      // cockatiel's ExponentialBackoff.
      ['backoff.exponential', 'maxDelay', () => backoff.exponential({ maxDelay: 1_000 } as never), 'maxMs'],
      ['backoff.exponential', 'exponent', () => backoff.exponential({ exponent: 2 } as never), 'multiplier'],
      // opossum's warm-up: a window that waits for calls before it may open.
      [
        'circuitBreaker',
        'allowWarmUp',
        () => circuitBreaker({ allowWarmUp: true } as never),
        'strategy: timeWindow({ minimumCalls })',
      ],
      [
        'rateLimiter',
        'inMemoryBlockOnConsumed',
        () => rateLimiter({ inMemoryBlockOnConsumed: 5 } as never),
        'denialCache',
      ],
      // bottleneck's bound on the jobs waiting.
      ['bulkhead', 'highWater', () => bulkhead({ limit: 1, highWater: 5 } as never), 'queue'],
    ])(
      "%s points cockatiel's, opossum's, rate-limiter-flexible's and bottleneck's %s to its own name",
      (_, option, build, hint) => {
        expect(build).toThrow(`${option}: received`);
        expect(build).toThrow(`(another library's? here: ${hint})`);
      },
    );

    // p-retry's `signal` option, cockatiel's habit: here a signal is a call's, not a policy's.
    const signal = new AbortController().signal;
    it.each([
      ['retry', () => retry({ signal } as never)],
      ['timeout', () => timeout(100, { signal } as never)],
      ['timeout', () => timeout({ softMs: 1, hardMs: 2, signal } as never)],
      ['circuitBreaker', () => circuitBreaker({ signal } as never)],
      ['bulkhead', () => bulkhead({ limit: 1, signal } as never)],
      ['hedge', () => hedge({ delayMs: 1, signal } as never)],
      ['fallback', () => fallback(1, { signal } as never)],
      ['chaos', () => chaos({ signal } as never)],
      ['adaptiveThrottle', () => adaptiveThrottle({ signal } as never)],
    ])('tells %s({ signal }) that a signal goes to each call', (_, build) => {
      expect(build).toThrow(
        "signal: received an AbortSignal, expected a known option (another library's? here: per call, execute(fn, signal))",
      );
    });

    it("falls back to a near name when the option another library's name points to is not one of these", () => {
      // `max` points to `algorithm`, `retries` to `maxAttempts`: neither is an option here.
      const names = { limits: true, retry: true } as const;
      expect(issues((v) => v.known({ limit: {}, retries: 3, max: 5 } as object, names))).toEqual([
        'limit: a known option (did you mean limits?): limits, retry',
        'retries: a known option (did you mean retry?)',
        'max: a known option',
      ]);
    });

    it('rejects what is not a plain object, returning {} so later checks can read it', () => {
      class Options {
        size = 1;
      }
      for (const bad of [null, 3, 'big', [], () => ({}), new Options(), new Date(0)]) {
        const v = new OptionsValidator('widget');
        expect(v.known(bad as Widget, NAMES)).toEqual({});
        expect(() => v.done()).toThrow(
          /options: received .*, expected an object with the options size, timeoutMs, label/,
        );
      }
    });

    it('names a nested object by its path', () => {
      expect(issues((v) => v.known(5 as unknown as Widget, NAMES, 'part'))).toEqual([
        'part: an object with the options size, timeoutMs, label',
      ]);
      expect(issues((v) => v.known({ label: 'x', sizes: 2 } as Widget, NAMES, 'part'))).toEqual([
        'part.sizes: a known option (did you mean size?): size, timeoutMs, label',
      ]);
    });

    it('has the compiler keep each list of names whole', () => {
      const complete = { size: true, timeoutMs: true, label: true } satisfies OptionNames<Widget>;
      // @ts-expect-error `label` is missing from the list
      const missing = { size: true, timeoutMs: true } satisfies OptionNames<Widget>;
      // @ts-expect-error `colour` is not an option of Widget
      const extra = { size: true, timeoutMs: true, label: true, colour: true } satisfies OptionNames<Widget>;
      expect([complete, missing, extra]).toHaveLength(3);
    });
  });
});
