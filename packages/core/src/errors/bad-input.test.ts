// Every factory fed every kind of bad input: each must fail at construction with a
// ConfigurationError naming the option; bad per-call arguments fail with a TypeError (keys,
// functions, signals) or a ConfigurationError naming the argument (cost, maxWaitMs, scope).
import { describe, expect, it } from 'vitest';
import { alerting } from '../alerting/alerting.js';
import { webhookHandler } from '../alerting/handlers.js';
import { rule } from '../alerting/rule.js';
import { circuitBreaker } from '../breaker/breaker.js';
import { countWindow } from '../breaker/strategy.js';
import { timeWindow } from '../breaker/time-window.js';
import { bulkhead } from '../bulkhead/bulkhead.js';
import { chaos } from '../chaos/chaos.js';
import { resilientClient } from '../client/client.js';
import { FakeClock } from '../clock/fake-clock.js';
import { toRetryOptions } from '../config/consumers.js';
import { optionsFromEnv } from '../config/env.js';
import { fallback } from '../fallback/fallback.js';
import { bulkheadCheck } from '../health/checks.js';
import { health } from '../health/health.js';
import { hedge } from '../hedging/hedge.js';
import { correlationIds } from '../http/correlation.js';
import { idempotency } from '../idempotency/idempotency.js';
import { eventLogger, logEvents } from '../logging/log-events.js';
import { messageProcessor } from '../messages/processor.js';
import { metrics } from '../metrics/metrics.js';
import { LatencySketch } from '../metrics/sketch.js';
import { latencyQuantile, slaReport } from '../metrics/sla.js';
import { gcra } from '../ratelimit/gcra.js';
import { rateLimitGroup } from '../ratelimit/group.js';
import { rateLimiter } from '../ratelimit/limiter.js';
import { tokenBucket } from '../ratelimit/token-bucket.js';
import { fixedWindow, slidingWindow } from '../ratelimit/windows.js';
import { backoff } from '../retry/backoff.js';
import { RetryBudget } from '../retry/budget.js';
import { retry } from '../retry/retry.js';
import { saga } from '../saga/saga.js';
import { memoryStore } from '../store/memory.js';
import { faultInjector } from '../testing/fault-injector.js';
import { jsonRoundTripStore } from '../testing/json-round-trip-store.js';
import { adaptiveThrottle } from '../throttle/throttle.js';
import { timeout } from '../timeout/timeout.js';
import { ConfigurationError, isConfigurationError } from './errors.js';

const clock = new FakeClock();
const logger = { info() {}, warn() {}, error() {} };
const fetchOk = async () => ({ ok: true, status: 200 });

/** A factory taking one options object, with the smallest valid options and what it injects. */
interface Factory {
  readonly name: string;
  readonly make: (options: unknown) => unknown;
  readonly base: Record<string, unknown>;
  readonly clock?: boolean;
  readonly random?: boolean;
  /** `false` when the options object is the first argument of an overload that also takes a number. */
  readonly shape?: boolean;
}

// biome-ignore lint/suspicious/noExplicitAny: feeding factories what their types forbid is the point.
const any = (f: (options: any) => unknown) => f;

const FACTORIES: readonly Factory[] = [
  { name: 'retry', make: any(retry), base: {}, clock: true, random: true },
  { name: 'backoff.exponential', make: any(backoff.exponential), base: {} },
  { name: 'backoff.linear', make: any((o) => backoff.linear(10, o)), base: {} },
  { name: 'RetryBudget', make: any((o) => new RetryBudget(o)), base: {}, clock: true },
  { name: 'circuitBreaker', make: any(circuitBreaker), base: { registry: false }, clock: true, random: true },
  {
    name: 'circuitBreaker (store)',
    make: any((o) => circuitBreaker(o)),
    base: { registry: false, store: memoryStore() },
    clock: true,
    random: true,
  },
  { name: 'countWindow', make: any(countWindow), base: { size: 10, failureRate: 0.5 } },
  { name: 'timeWindow', make: any(timeWindow), base: { windowMs: 1_000, failureRate: 0.5 } },
  { name: 'timeout(ms, options)', make: any((o) => timeout(100, o)), base: {}, clock: true },
  {
    name: 'timeout({ softMs, hardMs })',
    make: any(timeout),
    base: { softMs: 10, hardMs: 20 },
    clock: true,
    shape: false,
  },
  {
    name: "timeout({ ms: 'p99' })",
    make: any(timeout),
    base: { ms: 'p99', min: 1, max: 100 },
    clock: true,
    shape: false,
  },
  { name: 'bulkhead', make: any(bulkhead), base: { limit: 1 } },
  { name: 'chaos', make: any(chaos), base: {}, clock: true, random: true },
  { name: 'fallback', make: any((o) => fallback(1, o)), base: {} },
  { name: 'hedge', make: any(hedge), base: { delayMs: 10 }, clock: true },
  { name: 'rateLimiter', make: any(rateLimiter), base: { algorithm: tokenBucket() }, clock: true },
  {
    name: 'rateLimiter.policy',
    make: any((o) => rateLimiter({ algorithm: tokenBucket() }).policy(o)),
    base: { key: 'k' },
  },
  { name: 'rateLimitGroup', make: any(rateLimitGroup), base: { limits: { a: tokenBucket() } }, clock: true },
  { name: 'tokenBucket', make: any(tokenBucket), base: {} },
  { name: 'gcra', make: any(gcra), base: { limit: 1, periodMs: 1_000 } },
  { name: 'fixedWindow', make: any(fixedWindow), base: { limit: 1, windowMs: 1_000 } },
  { name: 'slidingWindow', make: any(slidingWindow), base: { limit: 1, windowMs: 1_000 } },
  { name: 'memoryStore', make: any(memoryStore), base: {} },
  { name: 'metrics', make: any(metrics), base: {}, clock: true },
  { name: 'slaReport', make: any((o) => slaReport(metrics({ clock }).snapshot(), o)), base: {} },
  { name: 'latencyQuantile', make: any((o) => latencyQuantile(metrics({ clock }), 0.5, o)), base: {}, clock: true },
  { name: 'alerting', make: any(alerting), base: {}, clock: true },
  {
    name: 'alerting.start',
    make: any((o) => alerting({ clock }).start({ snapshot: () => metrics({ clock }).snapshot() }, o)),
    base: {},
  },
  {
    name: 'rule',
    make: any(rule),
    base: { name: 'r', metric: 'errorRate', op: 'gt', threshold: 1, severity: 'info' },
  },
  { name: 'webhookHandler', make: any(webhookHandler), base: { url: 'https://x.test', fetch: fetchOk }, clock: true },
  { name: 'health', make: any(health), base: {}, clock: true },
  { name: 'health.register', make: any((o) => health({ clock }).register('x', () => true, o)), base: {} },
  { name: 'bulkheadCheck', make: any((o) => bulkheadCheck(bulkhead({ limit: 1 }), o)), base: {} },
  { name: 'logEvents', make: any((o) => logEvents(retry(), logger, o)), base: {} },
  { name: 'eventLogger', make: any((o) => eventLogger(logger, o)), base: {} },
  { name: 'idempotency', make: any(idempotency), base: {}, clock: true, random: true },
  { name: 'saga', make: any((o) => saga('s', o)), base: {}, clock: true, random: true },
  {
    name: 'messageProcessor',
    make: any(messageProcessor),
    base: { handler: () => {}, deadLetter: () => {} },
    clock: true,
  },
  { name: 'faultInjector', make: any((o) => faultInjector(() => 1, o)), base: {}, random: true },
];

/** The ConfigurationError `build` throws, checked to name `option` in its issues and its message. */
function configurationError(build: () => unknown, option: string): ConfigurationError {
  let error: unknown;
  try {
    build();
  } catch (e) {
    error = e;
  }
  expect(error, `expected a ConfigurationError naming ${option}`).toBeInstanceOf(ConfigurationError);
  const config = error as ConfigurationError;
  expect(isConfigurationError(config)).toBe(true);
  expect(config.code).toBe('invalid_options');
  expect(config.issues.map((i) => i.option)).toContain(option);
  expect(config.message).toContain(`${option}: received`);
  return config;
}

const NOT_OPTIONS: readonly [string, unknown][] = [
  ['null', null],
  ['a number', 42],
  ['a string', 'fast'],
  ['an array', []],
  ['a function', () => ({})],
  ['a class instance', new Map()],
];

describe.each(FACTORIES)('$name', ({ make, base }) => {
  it('accepts its smallest valid options', () => {
    expect(() => make(base)).not.toThrow();
  });

  it('rejects an unknown option with the list of known ones', () => {
    const error = configurationError(() => make({ ...base, notAnOption: 1 }), 'notAnOption');
    expect(error.message).toMatch(/notAnOption: received 1, expected a known option: \w+/);
  });
});

describe.each(FACTORIES.filter((f) => f.shape !== false))('$name', ({ make }) => {
  it.each(NOT_OPTIONS)('rejects %s as its options, naming options', (_, options) => {
    configurationError(() => make(options), 'options');
  });
});

describe.each(FACTORIES.filter((f) => f.clock))('$name', ({ make, base }) => {
  it('rejects a clock without the Clock methods', () => {
    configurationError(() => make({ ...base, clock: {} }), 'clock');
    configurationError(() => make({ ...base, clock: { now: () => 0 } }), 'clock');
  });
});

describe.each(FACTORIES.filter((f) => f.random))('$name', ({ make, base }) => {
  it('rejects a random source that is not a function', () => {
    configurationError(() => make({ ...base, random: 0.5 }), 'random');
  });
});

// A random source is called for a number at once: an async one answers a promise, and every
// draw is NaN. Accepted, it gave every correlation id as 00000000-0000-4000-8000-000000000000,
// a chaos policy at faultRate 0.9 that never struck (a promise is not below 0.9), and NaN jitter.
// The same for resilientClient's key(request), answered per request: refused at construction,
// as the tRPC links' key is, not by a TypeError on every request.
describe('a sync callback given an async function', () => {
  // The types refuse both; a JavaScript caller, or one behind a cast, gets no such help.
  const draw = (async () => 0.5) as never;
  const transport = {};
  it.each([
    ['retry', () => retry({ random: draw })],
    ['circuitBreaker', () => circuitBreaker({ registry: false, random: draw })],
    ['circuitBreaker (store)', () => circuitBreaker({ registry: false, store: memoryStore(), random: draw })],
    ['chaos', () => chaos({ random: draw })],
    ['adaptiveThrottle', () => adaptiveThrottle({ random: draw })],
    ['correlationIds', () => correlationIds({ random: draw })],
    ['idempotency', () => idempotency({ random: draw })],
    ['saga', () => saga('s', { random: draw })],
    ['messageProcessor', () => messageProcessor({ handler: () => {}, deadLetter: () => {}, random: draw })],
    ['faultInjector', () => faultInjector(() => 1, { random: draw })],
    ['resilientClient', () => resilientClient({ random: draw }, transport)],
  ])('%s refuses an async random source, naming random', (_, build) => {
    expect(configurationError(build, 'random').message).toContain('not async');
  });

  it('chaos refuses an async fault, naming fault: the call rejected with the promise, not an error', () => {
    expect(
      configurationError(() => chaos({ fault: (async () => new Error('x')) as never }), 'fault').message,
    ).toContain('not async');
  });

  it.each([
    ['faultInjector', 'error', () => faultInjector(() => 1, { error: (async () => new Error('x')) as never })],
    // It was taken, and every alert was posted as {}: JSON.stringify of a promise.
    [
      'webhookHandler',
      'body',
      () =>
        webhookHandler({ url: 'https://x.test', fetch: fetchOk, body: (async () => ({ text: 'db down' })) as never }),
    ],
  ])('%s refuses an async %s, whose answer is used at once', (_, option, build) => {
    expect(configurationError(build, option).message).toContain('not async');
  });

  it('resilientClient refuses an async key(request), naming key', () => {
    expect(
      configurationError(() => resilientClient({ key: (async () => 'h') as never }, transport), 'key').message,
    ).toContain('not async');
  });
});

describe('misspelt and foreign options', () => {
  it('suggests the option a misspelling meant', () => {
    expect(configurationError(() => retry({ maxAttemps: 10 } as never), 'maxAttemps').message).toContain(
      'did you mean maxAttempts?',
    );
    expect(
      configurationError(() => rateLimiter({ algorithm: tokenBucket(), max_wait: 5 } as never), 'max_wait').message,
    ).toContain('did you mean maxWaitMs?');
    expect(configurationError(() => bulkhead({ limit: 1, queueSize: 5 } as never), 'queueSize').message).toContain(
      'did you mean queue?',
    );
  });

  /** What the issue of `option` says is allowed. */
  const hint = (build: () => unknown, option: string) =>
    configurationError(build, option).issues.find((i) => i.option === option)!.allowed;

  it("names another library's counterpart only where the option it points to exists", () => {
    expect(hint(() => countWindow({ size: 10, failureRate: 0.5, points: 5 } as never), 'points')).toBe(
      'a known option: size, failureRate, minimumCalls, slowCallMs, slowCallRate',
    );
    expect(hint(() => rateLimitGroup({ limit: {} } as never), 'limit')).toMatch(
      /^a known option \(did you mean limits\?\)/,
    );
    expect(hint(() => memoryStore({ max: 5 } as never), 'max')).toBe('a known option: maxKeys');
    expect(hint(() => backoff.linear(100, { max: 5 } as never), 'max')).toMatch(/did you mean maxMs\?/);
    const webhook = () => webhookHandler({ url: 'https://x.test', retries: 3 } as never);
    expect(hint(webhook, 'retries')).toMatch(/^a known option \(did you mean retry\?\)/);
    // Where the option exists, the counterpart is named.
    expect(hint(() => rateLimiter({ windowMs: 1_000 } as never), 'windowMs')).toMatch(
      /^a known option \(another library's\? here: algorithm: fixedWindow\(\{ limit, windowMs \}\)\)/,
    );
    expect(hint(() => retry({ retries: 3 } as never), 'retries')).toMatch(/here: maxAttempts = retries \+ 1\)/);
  });

  const SECONDS = "in ms, rate-limiter-flexible's duration in s";
  // Each factory is told of its own counterpart: a window's `limit`, a bucket's `capacity`, a
  // breaker's `strategy` (or, for what a breaker does not do, the policy that does).
  it.each([
    ['fixedWindow', 'points', () => fixedWindow({ points: 10, duration: 60 } as never), 'limit'],
    ['fixedWindow', 'duration', () => fixedWindow({ points: 10, duration: 60 } as never), `windowMs ${SECONDS}`],
    ['fixedWindow', 'max', () => fixedWindow({ max: 10, windowMs: 1_000 } as never), 'limit'],
    ['slidingWindow', 'points', () => slidingWindow({ points: 10, duration: 60 } as never), 'limit'],
    ['slidingWindow', 'duration', () => slidingWindow({ points: 10, duration: 60 } as never), `windowMs ${SECONDS}`],
    ['slidingWindow', 'max', () => slidingWindow({ max: 10, windowMs: 1_000 } as never), 'limit'],
    ['gcra', 'points', () => gcra({ points: 10, duration: 60 } as never), 'limit'],
    ['gcra', 'duration', () => gcra({ points: 10, duration: 60 } as never), `periodMs ${SECONDS}`],
    ['gcra', 'windowMs', () => gcra({ limit: 10, windowMs: 1_000 } as never), 'periodMs'],
    ['tokenBucket', 'points', () => tokenBucket({ points: 10, duration: 60 } as never), 'capacity'],
    [
      'tokenBucket',
      'duration',
      () => tokenBucket({ points: 10, duration: 60 } as never),
      'refillPerSecond = points / duration',
    ],
    ['tokenBucket', 'limit', () => tokenBucket({ limit: 10 } as never), 'capacity'],
    [
      'timeWindow',
      'errorThresholdPercentage',
      () => timeWindow({ errorThresholdPercentage: 50 } as never),
      'failureRate: % / 100',
    ],
    ['timeWindow', 'volumeThreshold', () => timeWindow({ volumeThreshold: 5 } as never), 'minimumCalls'],
    ['timeWindow', 'rollingCountTimeout', () => timeWindow({ rollingCountTimeout: 10_000 } as never), 'windowMs'],
    ['timeWindow', 'rollingCountBuckets', () => timeWindow({ rollingCountBuckets: 10 } as never), 'buckets'],
    [
      'countWindow',
      'errorThresholdPercentage',
      () => countWindow({ errorThresholdPercentage: 50 } as never),
      'failureRate: % / 100',
    ],
    ['countWindow', 'volumeThreshold', () => countWindow({ volumeThreshold: 5 } as never), 'minimumCalls'],
    [
      'circuitBreaker',
      'rollingCountTimeout',
      () => circuitBreaker({ rollingCountTimeout: 10_000 } as never),
      'strategy: timeWindow({ windowMs })',
    ],
    [
      'circuitBreaker',
      'rollingCountBuckets',
      () => circuitBreaker({ rollingCountBuckets: 10 } as never),
      'strategy: timeWindow({ buckets })',
    ],
    ['circuitBreaker', 'timeout', () => circuitBreaker({ timeout: 3_000 } as never), 'pipeline(breaker, timeout(ms))'],
    [
      'circuitBreaker',
      'capacity',
      () => circuitBreaker({ capacity: 10 } as never),
      'pipeline(breaker, bulkhead({ limit }))',
    ],
    ['circuitBreaker', 'breaker', () => circuitBreaker({ breaker: {} } as never), 'strategy, e.g. consecutive(5)'],
    ['bulkhead', 'capacity', () => bulkhead({ capacity: 10 } as never), 'limit'],
    ['rateLimiter', 'keyPrefix', () => rateLimiter({ algorithm: tokenBucket(), keyPrefix: 'api' } as never), 'prefix'],
    [
      'rateLimiter',
      'insuranceLimiter',
      () => rateLimiter({ algorithm: tokenBucket(), insuranceLimiter: {} } as never),
      'onStoreError: memoryStore()',
    ],
    [
      'rateLimiter',
      'blockDuration',
      () => rateLimiter({ algorithm: tokenBucket(), blockDuration: 60 } as never),
      'none',
    ],
  ])(
    "%s points opossum's, cockatiel's and rate-limiter-flexible's %s to its own counterpart",
    (_, option, build, to) => {
      expect(hint(build, option)).toContain(`a known option (another library's? here: ${to})`);
    },
  );

  it("points p-retry's randomize to jitter and a queue size to queue, not to a near name that means another thing", () => {
    expect(hint(() => retry({ randomize: true } as never), 'randomize')).toMatch(
      /^a known option \(another library's\? here: backoff\.exponential\(\{ jitter \}\)\)/,
    );
    expect(hint(() => bulkhead({ limit: 1, maxQueue: 5 } as never), 'maxQueue')).toMatch(
      /^a known option \(another library's\? here: queue\)/,
    );
  });

  it("points optionsFromEnv()'s sections, given to a factory as they are, to the helper that maps them", () => {
    const env = optionsFromEnv({ APP_MAX_RETRIES: '2', APP_RETRY_BASE_DELAY_MS: '100', APP_RETRY_MAX_DELAY_MS: '900' });
    const error = configurationError(() => retry(env.retry as never), 'baseDelayMs');
    expect(error.issues.map((i) => [i.option, i.allowed.split(':')[0]])).toEqual([
      ['baseDelayMs', 'a known option (here'],
      ['maxDelayMs', 'a known option (here'],
    ]);
    expect(error.message).toContain('(here: backoff, from ...toRetryOptions(env.retry))');
    // Followed as written, the hint works.
    expect(() => retry({ ...toRetryOptions(env.retry) })).not.toThrow();
    for (const option of ['resetTimeoutMs', 'failureThreshold']) {
      expect(hint(() => circuitBreaker({ [option]: 5_000 } as never), option)).toMatch(
        /\(here: strategy and halfOpenAfter, from \.\.\.toBreakerOptions\(env\.breaker\)\)/,
      );
    }
    const limit = () => rateLimiter({ algorithm: tokenBucket(), requestsPerMinute: 60 } as never);
    expect(hint(limit, 'requestsPerMinute')).toMatch(
      /\(here: algorithm, from \.\.\.toRateLimiterOptions\(env\.rateLimit\)\)/,
    );
  });

  it("rejects cockatiel's retry(handleAll, { ... }) shape", () => {
    class Policy {
      readonly options = { errorFilter: () => true };
    }
    configurationError(() => retry(new Policy() as never), 'options');
  });
});

describe('nested options', () => {
  it.each([
    ['retry retryAfter', () => retry({ retryAfter: 5 as never }), 'retryAfter'],
    ['retry retryAfter.maxMS', () => retry({ retryAfter: { maxMS: 1 } as never }), 'retryAfter.maxMS'],
    ['retry budget string', () => retry({ budget: 'x' as never }), 'budget'],
    ['retry budget number', () => retry({ budget: 42 as never }), 'budget'],
    ['retry budget null', () => retry({ budget: null as never }), 'budget'],
    ['retry budget.windowMS', () => retry({ budget: { windowMS: 1 } as never }), 'budget.windowMS'],
    ['retry budget.ratio', () => retry({ budget: { ratio: -1 } }), 'budget.ratio'],
    ['retry budget.clock', () => retry({ budget: { clock: {} as never } }), 'budget.clock'],
    [
      'webhookHandler retry.maxAttemps',
      () => webhookHandler({ url: 'https://x.test', fetch: fetchOk, retry: { maxAttemps: 2 } as never }),
      'retry.maxAttemps',
    ],
    [
      'webhookHandler retry.clock',
      () => webhookHandler({ url: 'https://x.test', fetch: fetchOk, retry: { clock } as never }),
      'retry.clock',
    ],
    [
      'timeout pair with a second options object',
      () => (timeout as (a: unknown, b: unknown) => unknown)({ softMs: 1, hardMs: 2 }, { strategy: 'aggressive' }),
      'options',
    ],
  ])('%s', (_, build, option) => {
    configurationError(build, option);
  });

  it('still takes a shared RetryBudget instance', () => {
    expect(() => retry({ budget: new RetryBudget({ clock }) })).not.toThrow();
  });
});

describe('constructor arguments that are not option objects', () => {
  it.each([
    ['faultInjector failureRate 2', () => faultInjector(() => 1, { failureRate: 2 }), 'failureRate'],
    ['faultInjector failFirst -1', () => faultInjector(() => 1, { failFirst: -1 }), 'failFirst'],
    ['faultInjector error', () => faultInjector(() => 1, { error: 'boom' as never }), 'error'],
    ['faultInjector fn', () => faultInjector('fn' as never), 'fn'],
    ['LatencySketch storage', () => new LatencySketch('int8' as never), 'storage'],
    ['timeout(ms, null)', () => timeout(100, null as never), 'options'],
    ['jsonRoundTripStore without a store', () => jsonRoundTripStore({} as never), 'store'],
  ])('%s', (_, build, option) => {
    configurationError(build, option);
  });
});

describe('per-call arguments', () => {
  const limiter = () => rateLimiter({ algorithm: fixedWindow({ limit: 10, windowMs: 1_000 }), clock });
  const multi = () => rateLimiter({ algorithm: [tokenBucket(), gcra({ limit: 5, periodMs: 1_000 })], clock });
  const keys: readonly [string, unknown][] = [
    ['undefined', undefined],
    ['an object', { id: 1 }],
    ['a number', 42],
  ];

  it.each(keys)('a rate-limit key that is %s is a TypeError saying a string is expected', async (_, key) => {
    const l = limiter();
    const m = multi();
    for (const call of [
      () => l.consume(key as string),
      () => m.consume(key as string),
      () => l.peek(key as string),
      () => l.wait(key as string),
      () => l.reset(key as string),
      () => rateLimitGroup({ limits: { a: tokenBucket() }, clock }).consume('a', key as string),
    ]) {
      await expect(call()).rejects.toThrow(TypeError);
      await expect(call()).rejects.toThrow(/key.*string/);
    }
    expect(() => l.consumeSync(key as string)).toThrow(TypeError);
    expect(() => l.consumeSync(key as string)).toThrow(/key.*string/);
  });

  it('a string cost is a ConfigurationError naming cost, and nothing is consumed', async () => {
    const l = limiter();
    const m = multi();
    await expect(l.consume('x', '1' as never)).rejects.toThrow(/cost: received "1"/);
    await expect(m.consume('x', '1' as never)).rejects.toThrow(/cost: received "1"/);
    await expect(l.peek('x', '1' as never)).rejects.toThrow(/cost/);
    await expect(l.wait('x', { cost: '1' as never })).rejects.toThrow(/cost/);
    expect(() => l.consumeSync('x', '1' as never)).toThrow(/cost/);
    expect(() => l.policy({ key: 'x', cost: '1' as never })).toThrow(/cost/);
    const d = await l.consume('x', 2);
    expect(d.remaining).toBe(8); // not "1" concatenated into the count
  });

  it('a string maxWaitMs or a null wait options object is rejected by name', async () => {
    const l = limiter();
    await expect(l.wait('x', { maxWaitMs: '5' as never })).rejects.toThrow(/maxWaitMs: received "5"/);
    await expect(l.wait('x', null as never)).rejects.toThrow(/options/);
    await expect(l.execute('x', 'fn' as never)).rejects.toThrow(TypeError);
  });

  it('a policy call with something other than a function or an AbortSignal is a TypeError', async () => {
    for (const policy of [retry(), bulkhead({ limit: 1 }), timeout(100, { clock }), fallback(1)]) {
      await expect(policy.execute('fn' as never)).rejects.toThrow(TypeError);
      await expect(policy.execute('fn' as never)).rejects.toThrow(/function/);
      await expect(policy.execute(() => 1, 'signal' as never)).rejects.toThrow(/AbortSignal/);
    }
  });

  it('a policy wrap of something other than a function throws a TypeError at once, naming wrap', () => {
    const policies = [
      retry(),
      bulkhead({ limit: 1 }),
      timeout(100, { clock }),
      fallback(1),
      rateLimiter({ algorithm: tokenBucket(), clock }).policy({ key: 'k' }),
    ];
    for (const policy of policies) {
      // Not a function that fails later with "e is not a function" on every call.
      expect(() => policy.wrap(undefined as never)).toThrow(TypeError);
      expect(() => policy.wrap('fn' as never)).toThrow(`${policy.name}.wrap: fn: expected a function, received string`);
    }
  });

  it('the collector (or no object) where a snapshot is due is refused by name, never read as no data', async () => {
    const stats = metrics({ clock });
    for (let i = 0; i < 10; i++) stats.recordCall({ latencyMs: 1, ok: false });
    const alerts = alerting({ clock });
    // alerts.start(stats) takes the collector; evaluate takes its snapshot. Given the collector,
    // every rule read a missing metric and nothing ever fired.
    for (const wrong of [stats, undefined, null, 5]) {
      await expect(alerts.evaluate(wrong as never)).rejects.toThrow(/snapshot: received .*collector\.snapshot\(\)/);
      expect(() => slaReport(wrong as never)).toThrow(/snapshot: received .*collector\.snapshot\(\)/);
    }
    expect((await alerts.evaluate(stats.snapshot())).map((a) => a.name)).toContain('critical_error_rate');
    expect(slaReport(stats.snapshot()).met).toBe(false);
  });

  it('an async function where an answer is read at once is refused at construction, by option', () => {
    const lookup = async () => 100;
    // Each promise was read as no answer: a timeout without a limit, a hedge that never
    // hedged, every message poison for want of an id, every call a TypeError for its key.
    expect(() => timeout(lookup as never, { clock })).toThrow(
      /timeout options: ms: received a function, expected .*not async/,
    );
    expect(() => hedge({ delayMs: lookup as never, clock })).toThrow(
      /delayMs: received a function, expected .*not async/,
    );
    const handler = async () => {};
    expect(() => messageProcessor({ handler, deadLetter: handler, idOf: lookup as never })).toThrow(
      /idOf: .*not async/,
    );
    const limiter = rateLimiter({ algorithm: tokenBucket(), clock });
    expect(() => limiter.policy({ key: (async () => 'k') as never })).toThrow(
      /key: received a function, expected .*not async/,
    );
    // logEvents wrote the promise itself as every record's correlationId.
    const logger = { info() {}, warn() {}, error() {} };
    expect(() => logEvents(retry(), logger, { correlationId: (async () => 'req-1') as never })).toThrow(
      /correlationId: received a function, expected .*not async/,
    );
    // A yes/no answer read at once: a promise counted as no answer on every call.
    expect(() => messageProcessor({ handler, deadLetter: handler, isPoison: (async () => true) as never })).toThrow(
      /isPoison: received a function, expected .*not async/,
    );
    expect(() => idempotency({ recordErrors: (async () => true) as never })).toThrow(
      /recordErrors: received a function, expected .*not async/,
    );
    expect(idempotency({ recordErrors: () => true })).toBeDefined();
    expect(timeout(() => 100, { clock }).name).toBe('timeout'); // a plain function still is one
    expect(hedge({ delayMs: () => 100, clock }).name).toBe('hedge');
    expect(limiter.policy({ key: () => 'k' }).name).toBe('rateLimiter');
  });

  it('an idempotency scope with a lone surrogate is a ConfigurationError naming scope, not a URIError', async () => {
    const idem = idempotency({ clock });
    await expect(idem.execute('k', () => 1, { scope: 'a\uD800' })).rejects.toThrow(ConfigurationError);
    await expect(idem.execute('k', () => 1, { scope: 'a\uD800' })).rejects.toThrow(/scope: received/);
    await expect(idem.execute('k', () => 1, { scope: '\u{1F600} ok' })).resolves.toBe(1);
    await expect(idem.execute('k', () => 1, null as never)).rejects.toThrow(/options/);
    await expect(idem.execute('k', () => 1, { signal: 'stop' as never })).rejects.toThrow(/signal: received "stop"/);
  });

  it('a metrics record with a non-numeric latency is a TypeError', () => {
    const m = metrics({ clock });
    expect(() => m.recordCall({ latencyMs: '5' as never, ok: true })).toThrow(TypeError);
    expect(() => m.recordCall(null as never)).toThrow(/latencyMs/);
    expect(m.snapshot().calls).toBe(0);
    const sketch = new LatencySketch();
    expect(() => sketch.add('5' as never)).toThrow(TypeError);
    expect(sketch.sum).toBe(0); // not "05"
  });

  it('a saga run with a signal that is not an AbortSignal is misuse, before any step runs', async () => {
    let ran = 0;
    const s = saga('s').step({ name: 'a', run: () => ran++ });
    await expect(s.execute(null, { signal: {} as never })).rejects.toThrow(/signal must be an AbortSignal/);
    expect(ran).toBe(0);
  });

  it('a health run of an unknown kind is rejected instead of reporting an empty healthy run', async () => {
    await expect(health({ clock }).run({ kind: 'startup' as never })).rejects.toThrow(/kind/);
  });
});
