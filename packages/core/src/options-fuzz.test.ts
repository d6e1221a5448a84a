// A fuzz of every option of every public factory with hostile values: NaN, ±Infinity, -1, a
// string or bigint for a number, an object, array, null or function where something else is
// meant, a Symbol, an `Object.create(null)`. The promise (docs/README.md, "Bad input fails
// loudly"): each is refused at construction with a ConfigurationError (`invalid_options`)
// whose issues and message name the option. Beside it: durations above 2^31 − 1 ms (Node
// fires a longer timer after 1 ms) never fire early, options are never written to, and
// misspelt names are refused by name.
//
// A defect this fuzz finds and that is not fixed yet goes in DEFECTS and runs as `it.fails`,
// so the suite stays green and it turns red (an unexpected pass) once fixed: then drop it.
import { describe, expect, it, vi } from 'vitest';
import { LONG, settled, soon, withFakeTimers } from '../../../test-kit/long-timers.js';
import { expectRefused, named as refusal } from '../../../test-kit/refusal.js';
import {
  adaptiveLimit,
  adaptiveThrottle,
  alerting,
  backoff,
  bulkhead,
  bulkheadCheck,
  chaos,
  circuitBreaker,
  clientIpKey,
  correlationIds,
  countWindow,
  errorResponse,
  eventLogger,
  fallback,
  fixedWindow,
  gcra,
  health,
  healthCacheControl,
  hedge,
  idempotency,
  idempotencyKeyParser,
  isConfigurationError,
  latencyQuantile,
  memoryStore,
  messageProcessor,
  metrics,
  RetryBudget,
  rateLimiter,
  rateLimitGroup,
  rateLimitResponder,
  recentErrors,
  resilientClient,
  retry,
  rule,
  saga,
  slaReport,
  slidingWindow,
  systemClock,
  throttleTransition,
  timeout,
  timeWindow,
  toHealthJson,
  tokenBucket,
  transactional,
  transactions,
  webhookHandler,
} from './index.js';
import { FakeClock, faultInjector } from './testing.js';

// biome-ignore lint/suspicious/noExplicitAny: feeding factories what their types forbid is the point.
type Any = any;

const clock = new FakeClock();
const logger = { info() {}, warn() {}, error() {} };
const fetchOk = async () => ({ ok: true, status: 200 });
const txClient = { begin: async () => ({}), commit: async () => {}, rollback: async () => {} };

/** A hostile value, made fresh for each use (a frozen or revoked one must not leak between cases). */
type Hostile = readonly [label: string, make: () => unknown];
const h = (label: string, make: () => unknown): Hostile => [label, make];

const NUMBER_LIKE: readonly Hostile[] = [
  h('NaN', () => Number.NaN),
  h('Infinity', () => Number.POSITIVE_INFINITY),
  h('-Infinity', () => Number.NEGATIVE_INFINITY),
  h("'5'", () => '5'),
  h('5n', () => 5n),
  h('{}', () => ({})),
  h('[]', () => []),
  h('null', () => null),
  h('a function', () => () => 5),
  h('true', () => true),
  h('a Symbol', () => Symbol('s')),
  h('Object.create(null)', () => Object.create(null)),
];
const NOT_FUNCTION: readonly Hostile[] = [
  h('5', () => 5),
  h("'fn'", () => 'fn'),
  h('{}', () => ({})),
  h('[]', () => []),
  h('null', () => null),
  h('true', () => true),
  h('a Symbol', () => Symbol('s')),
];
const NOT_STRING: readonly Hostile[] = [
  h('5', () => 5),
  h('{}', () => ({})),
  h('[]', () => []),
  h('null', () => null),
  h('true', () => true),
  h('a function', () => () => 'x'),
  h('5n', () => 5n),
];
const NOT_OBJECT: readonly Hostile[] = [
  h('5', () => 5),
  h("'x'", () => 'x'),
  h('[]', () => []),
  h('[1]', () => [1]),
  h('null', () => null),
  h('true', () => true),
  h('a Map', () => new Map()),
];

/** The hostile values of each kind of option. */
const KINDS = {
  /** A whole number >= 0 or >= 1. */
  count: [...NUMBER_LIKE, h('-1', () => -1), h('0.5', () => 0.5)],
  /** A finite number, no sign promised. */
  number: NUMBER_LIKE,
  /** Milliseconds: a finite number >= 0 (or > 0). */
  ms: [...NUMBER_LIKE, h('-1', () => -1)],
  /** A share, 0 to 1. */
  rate: [...NUMBER_LIKE, h('-0.1', () => -0.1), h('1.5', () => 1.5)],
  fn: NOT_FUNCTION,
  string: NOT_STRING,
  /** Nested options or an instance with methods (a strategy, a store, a policy). */
  object: NOT_OBJECT,
  /** `true`/`false` or nested options. */
  objectOrBoolean: NOT_OBJECT.filter(([label]) => label !== 'true'),
  boolean: [h('1', () => 1), h("'true'", () => 'true'), h('{}', () => ({})), h('null', () => null)],
  /** A boolean or a predicate. */
  booleanOrFn: [h('1', () => 1), h("'true'", () => 'true'), h('{}', () => ({})), h('null', () => null)],
  /** One of a few strings. */
  enum: [h("'nope'", () => 'nope'), h('5', () => 5), h('{}', () => ({})), h('null', () => null)],
  clock: [h('{}', () => ({})), h('5', () => 5), h('null', () => null), h('{ now }', () => ({ now: () => 0 }))],
  list: [h('5', () => 5), h("'x'", () => 'x'), h('{}', () => ({})), h('null', () => null), h('[1]', () => [1])],
} as const satisfies Record<string, readonly Hostile[]>;
type Kind = keyof typeof KINDS;

interface Factory {
  readonly name: string;
  readonly make: (options: Any) => unknown;
  /** The smallest valid options; each case is `{ ...base, [option]: hostile }`. */
  readonly base: Record<string, unknown>;
  readonly options: Readonly<Record<string, Kind>>;
  /** Option values that are hostile elsewhere but documented as valid here (`'option:label'`). */
  readonly valid?: readonly string[];
}

const store = () => memoryStore();

const FACTORIES: readonly Factory[] = [
  {
    name: 'retry',
    make: retry,
    base: {},
    options: {
      maxAttempts: 'count',
      backoff: 'object',
      retryAfter: 'object',
      deadlineMs: 'ms',
      budget: 'object',
      handle: 'fn',
      onRetry: 'fn',
      name: 'string',
      clock: 'clock',
      random: 'fn',
    },
    valid: ['retryAfter:true'], // true/false: honour Retry-After or not
  },
  { name: 'RetryBudget', make: (o) => new RetryBudget(o), base: {}, options: { ratio: 'ms', windowMs: 'ms' } },
  {
    name: 'backoff.exponential',
    make: backoff.exponential,
    base: {},
    options: { initialMs: 'ms', multiplier: 'number', maxMs: 'ms', jitter: 'enum' },
  },
  { name: 'backoff.linear', make: (o) => backoff.linear(10, o), base: {}, options: { maxMs: 'ms' } },
  {
    name: 'circuitBreaker',
    make: circuitBreaker,
    base: { registry: false },
    options: {
      strategy: 'object',
      halfOpenAfter: 'ms',
      halfOpenMaxCalls: 'count',
      handle: 'fn',
      name: 'string',
      clock: 'clock',
      random: 'fn',
      initialState: 'object',
      store: 'object',
    },
  },
  {
    name: 'circuitBreaker (store)',
    make: circuitBreaker,
    base: { registry: false, store: store() },
    options: { key: 'string', sync: 'object' },
    valid: ['sync:[1]'], // refused as `sync.0`, a path under sync
  },
  {
    name: 'countWindow',
    make: countWindow,
    base: { size: 10, failureRate: 0.5 },
    options: { size: 'count', failureRate: 'rate', minimumCalls: 'count', slowCallMs: 'ms', slowCallRate: 'rate' },
  },
  {
    name: 'timeWindow',
    make: timeWindow,
    base: { windowMs: 1_000, failureRate: 0.5 },
    options: {
      windowMs: 'ms',
      buckets: 'count',
      failureRate: 'rate',
      minimumCalls: 'count',
      slowCallMs: 'ms',
      slowCallRate: 'rate',
    },
  },
  {
    name: 'timeout(ms, options)',
    make: (o) => timeout(100, o),
    base: {},
    options: { strategy: 'enum', name: 'string', clock: 'clock' },
  },
  {
    name: 'timeout({ softMs, hardMs })',
    make: timeout,
    base: { softMs: 10, hardMs: 20 },
    options: { softMs: 'ms', hardMs: 'ms', name: 'string', clock: 'clock' },
  },
  {
    name: 'bulkhead',
    make: bulkhead,
    base: { limit: 1, queue: 1 },
    options: { limit: 'count', queue: 'count', maxQueueMs: 'ms', retryAfterMs: 'ms', name: 'string', clock: 'clock' },
  },
  { name: 'fallback', make: (o) => fallback(1, o), base: {}, options: { handle: 'fn', name: 'string' } },
  {
    name: 'hedge',
    make: hedge,
    base: { delayMs: 10 },
    options: { delayMs: 'ms', maxHedges: 'count', name: 'string', clock: 'clock' },
    valid: ['delayMs:a function'], // a delay read per call
  },
  {
    name: "hedge({ delayMs: 'p95' })",
    make: hedge,
    base: { delayMs: 'p95' },
    options: { minSamples: 'count', windowMs: 'ms', refreshMs: 'ms', refreshCalls: 'count', min: 'ms', max: 'ms' },
    valid: ['max:Infinity'], // the default: no cap
  },
  {
    name: 'rateLimiter',
    make: rateLimiter,
    base: { algorithm: tokenBucket() },
    options: {
      algorithm: 'object',
      store: 'object',
      name: 'string',
      maxWaitMs: 'ms',
      maxWaiters: 'count',
      clock: 'clock',
      onStoreError: 'object',
      denialCache: 'objectOrBoolean',
    },
    valid: ['algorithm:[1]'], // a list of algorithms, refused as algorithm[0]
  },
  {
    name: 'rateLimitGroup',
    make: rateLimitGroup,
    base: { limits: { a: tokenBucket() } },
    options: { limits: 'object', maxWaitMs: 'ms', maxWaiters: 'count', name: 'string', clock: 'clock' },
  },
  {
    name: 'fixedWindow',
    make: fixedWindow,
    base: { limit: 1, windowMs: 1_000 },
    options: { limit: 'ms', windowMs: 'ms' },
  },
  {
    name: 'slidingWindow',
    make: slidingWindow,
    base: { limit: 1, windowMs: 1_000 },
    options: { limit: 'ms', windowMs: 'ms' },
  },
  { name: 'tokenBucket', make: tokenBucket, base: {}, options: { capacity: 'ms', refillPerSecond: 'ms' } },
  {
    name: 'gcra',
    make: gcra,
    base: { limit: 1, periodMs: 1_000 },
    options: { limit: 'ms', periodMs: 'ms', burst: 'count' },
  },
  { name: 'memoryStore', make: memoryStore, base: {}, options: { maxKeys: 'count' } },
  {
    name: 'metrics',
    make: metrics,
    base: {},
    options: { windowMs: 'ms', subWindows: 'count', maxErrorTypes: 'count', clock: 'clock' },
  },
  {
    name: 'recentErrors',
    make: recentErrors,
    base: {},
    options: { max: 'count', maxMessageLength: 'count', clock: 'clock' },
  },
  {
    name: 'alerting',
    make: alerting,
    base: {},
    options: { rules: 'list', handlers: 'list', maxHistory: 'count', clock: 'clock' },
  },
  {
    name: 'alerting.start',
    make: (o) => alerting({ clock }).start({ snapshot: () => metrics({ clock }).snapshot() }, o),
    base: {},
    options: { intervalMs: 'ms' },
  },
  {
    name: 'rule',
    make: rule,
    base: { name: 'r', metric: 'errorRate', op: 'gt', threshold: 1, severity: 'info' },
    options: {
      name: 'string',
      metric: 'string', // any snapshot path
      op: 'enum',
      threshold: 'number',
      severity: 'enum',
      forMs: 'ms',
      cooldownMs: 'ms',
      when: 'fn',
      description: 'string',
    },
  },
  {
    name: 'webhookHandler',
    make: webhookHandler,
    base: { url: 'https://x.test', fetch: fetchOk },
    options: {
      url: 'string',
      fetch: 'fn',
      timeoutMs: 'ms',
      retry: 'object',
      headers: 'object',
      body: 'fn',
      clock: 'clock',
    },
    valid: ['fetch:null'], // taken as "not set": globalThis.fetch
  },
  { name: 'health', make: health, base: {}, options: { cacheMs: 'ms', clock: 'clock' } },
  { name: 'health.start', make: (o) => health({ clock }).start(o), base: {}, options: { intervalMs: 'ms' } },
  {
    name: 'health.register',
    make: (o) => health({ clock }).register('x', () => true, o),
    base: {},
    options: {
      timeoutMs: 'ms',
      critical: 'boolean',
      failureThreshold: 'count',
      kind: 'enum',
      componentId: 'string',
      componentType: 'string',
    },
  },
  {
    name: 'bulkheadCheck',
    make: (o) => bulkheadCheck(bulkhead({ limit: 1 }), o),
    base: {},
    options: { limit: 'count', queue: 'count', warnAt: 'rate' },
    valid: ['limit:null', 'queue:null'], // taken as "not set": the bulkhead's own
  },
  {
    name: 'idempotency',
    make: idempotency,
    base: {},
    options: {
      store: 'object',
      ttlMs: 'ms',
      maxRecords: 'count',
      lockTimeoutMs: 'ms',
      recordErrors: 'booleanOrFn',
      maxRecordBytes: 'count',
      pollIntervalMs: 'ms',
      recordAttempts: 'count',
      keyPrefix: 'string',
      clock: 'clock',
      random: 'fn',
    },
    valid: ['maxRecordBytes:Infinity'], // documented: no bound
  },
  {
    name: 'saga',
    make: (o) => saga('s', o),
    base: { store: store() },
    options: {
      compensationRetry: 'object',
      recoverAfterMs: 'ms',
      logTtlMs: 'ms',
      maxRecoverPerCall: 'count',
      keyPrefix: 'string',
      clock: 'clock',
      random: 'fn',
    },
  },
  {
    name: 'messageProcessor',
    make: messageProcessor,
    base: { handler: () => {}, deadLetter: () => {} },
    options: {
      handler: 'fn',
      deadLetter: 'fn',
      maxAttempts: 'count',
      isPoison: 'fn',
      store: 'object',
      retryTtlMs: 'ms',
      softTimeoutMs: 'ms',
      hardTimeoutMs: 'ms',
      deadLetterLeaseMs: 'ms',
      idOf: 'fn',
      keyPrefix: 'string',
      retryBackoff: 'object',
      name: 'string',
      clock: 'clock',
      random: 'fn',
    },
  },
  { name: 'transactions', make: (o) => transactions(txClient, o), base: {}, options: { name: 'string' } },
  {
    name: 'adaptiveThrottle',
    make: adaptiveThrottle,
    base: {},
    options: { k: 'ms', windowMs: 'ms', overloaded: 'fn', name: 'string', clock: 'clock', random: 'fn' },
  },
  {
    name: 'adaptiveLimit',
    make: adaptiveLimit,
    base: {},
    options: {
      initialLimit: 'count',
      minLimit: 'count',
      maxLimit: 'count',
      smoothing: 'rate',
      tolerance: 'ms',
      baselineIntervalMs: 'ms',
      baselineSamples: 'count',
    },
  },
  {
    name: 'chaos',
    make: chaos,
    base: {},
    options: {
      faultRate: 'rate',
      latencyMs: 'ms',
      latencyRate: 'rate',
      enabled: 'booleanOrFn',
      name: 'string',
      clock: 'clock',
      random: 'fn',
    },
  },
  {
    name: 'resilientClient',
    make: (o) => resilientClient(o),
    base: {},
    options: {
      retry: 'object',
      breaker: 'object',
      rateLimit: 'object',
      deadlineMs: 'ms',
      throttle: 'objectOrBoolean',
      idempotent: 'fn',
      idempotencyKey: 'boolean',
      metrics: 'objectOrBoolean',
      key: 'fn',
      maxHosts: 'count',
      name: 'string',
      clock: 'clock',
      random: 'fn',
    },
    valid: ['retry:[1]', 'breaker:[1]'], // refused, as retry.0 and breaker.0
  },
  {
    name: 'correlationIds',
    make: correlationIds,
    base: {},
    options: { random: 'fn', maxLength: 'count' },
  },
  {
    name: 'idempotencyKeyParser',
    make: idempotencyKeyParser,
    base: {},
    options: { minKeyLength: 'count', maxKeyLength: 'count' },
  },
  {
    name: 'rateLimitResponder',
    make: (o) => rateLimitResponder([rateLimiter({ algorithm: tokenBucket(), clock })], o),
    base: {},
    options: { headers: 'enum' },
  },
  {
    name: 'eventLogger',
    make: (o) => eventLogger(logger, o),
    base: {},
    options: { levels: 'object', correlationId: 'fn' },
  },
  {
    name: 'slaReport',
    make: (o) => slaReport(metrics({ clock }).snapshot(), o),
    base: {},
    options: { availability: 'rate', p95Ms: 'ms', errorRate: 'rate' },
  },
  {
    name: 'latencyQuantile',
    make: (o) => latencyQuantile(metrics({ clock }), 0.5, o),
    base: {},
    options: { fallbackMs: 'ms', refreshMs: 'ms', clock: 'clock' },
  },
  {
    name: 'faultInjector',
    make: (o) => faultInjector(() => 1, o),
    base: {},
    options: { failFirst: 'count', failureRate: 'rate', error: 'fn', random: 'fn' },
  },
];

/**
 * What the fuzz found that breaks the promise, as `'<factory>.<option>:<value label>'` (the
 * cases of the fuzz below) with what goes wrong. Each runs as `it.fails`.
 */
const DEFECTS: Readonly<Record<string, string>> = {};

describe('every option of every factory refuses hostile values, naming the option', () => {
  for (const factory of FACTORIES) {
    describe(factory.name, () => {
      it('accepts its smallest valid options', () => {
        expect(() => factory.make({ ...factory.base })).not.toThrow();
      });
      for (const [option, kind] of Object.entries(factory.options)) {
        const cases = KINDS[kind].filter(([label]) => !factory.valid?.includes(`${option}:${label}`));
        const key = (label: string) => `${factory.name}.${option}:${label}`;
        const sound = cases.filter(([label]) => DEFECTS[key(label)] === undefined);
        const broken = cases.filter(([label]) => DEFECTS[key(label)] !== undefined);
        it(`${option} (${kind}): ${sound.map(([label]) => label).join(', ')}`, () => {
          for (const [label, make] of sound)
            expectRefused(() => factory.make({ ...factory.base, [option]: make() }), option, label);
        });
        for (const [label, make] of broken) {
          it.fails(`${option} = ${label} (defect: ${DEFECTS[key(label)]})`, () => {
            expectRefused(() => factory.make({ ...factory.base, [option]: make() }), option, label);
          });
        }
      }
    });
  }
});

describe('misspelt option names are refused by name', () => {
  /** Two slips of the keyboard: a letter dropped, the last one upper-cased (`windowMS`). */
  const slips = (name: string) =>
    [name.slice(0, 2) + name.slice(3), name.slice(0, -1) + name.slice(-1).toUpperCase()].filter((s) => s !== name);
  for (const factory of FACTORIES) {
    it(`${factory.name}: ${Object.keys(factory.options).flatMap(slips).join(', ')}`, () => {
      for (const option of Object.keys(factory.options)) {
        for (const slip of slips(option)) {
          if (Object.hasOwn(factory.options, slip)) continue;
          expectRefused(() => factory.make({ ...factory.base, [slip]: 1 }), slip, 'a misspelt name');
        }
      }
    });
  }
});

describe('options objects as they come', () => {
  it('a null-prototype or frozen (deeply) options object is taken, and never written to', () => {
    const freeze = (value: unknown): unknown => {
      if (typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype) {
        for (const v of Object.values(value)) freeze(v);
        Object.freeze(value);
      }
      return value;
    };
    for (const factory of FACTORIES) {
      expect(() => factory.make(Object.assign(Object.create(null), factory.base)), factory.name).not.toThrow();
      expect(() => factory.make(freeze({ ...factory.base })), factory.name).not.toThrow();
    }
  });

  it('nested options objects are never written to', () => {
    const writes: string[] = [];
    const watched = <T extends object>(value: T, path: string): T => {
      const wrote = (k: string | symbol) => writes.push(`${path}.${String(k)}`);
      return new Proxy(value, {
        set: (t, k, v) => wrote(k) > 0 && Reflect.set(t, k, v),
        defineProperty: (t, k, d) => wrote(k) > 0 && Reflect.defineProperty(t, k, d),
        deleteProperty: (t, k) => wrote(k) > 0 && Reflect.deleteProperty(t, k),
      });
    };
    retry(watched({ retryAfter: watched({ maxMs: 5 }, 'retryAfter'), budget: watched({ ratio: 0.2 }, 'budget') }, 'o'));
    resilientClient(
      watched(
        {
          retry: watched({ maxAttempts: 2, budget: watched({ ratio: 0.1 }, 'retry.budget') }, 'retry'),
          breaker: watched({ halfOpenAfter: 5 }, 'breaker'),
          throttle: watched({ k: 2 }, 'throttle'),
          metrics: watched({ windowMs: 1_000 }, 'metrics'),
          rateLimit: watched({ requestsPerMinute: 60 }, 'rateLimit'),
          timeout: watched({ ms: 100 }, 'timeout'),
        },
        'o',
      ),
    );
    webhookHandler(
      watched(
        { url: 'https://x.test', fetch: fetchOk, headers: watched({ a: 'b' }, 'headers'), retry: watched({}, 'retry') },
        'o',
      ),
    );
    eventLogger(logger, watched({ levels: watched({ retry: 'info' as const }, 'levels') }, 'o'));
    timeout(watched({ ms: 'p99', min: 1, max: 100 }, 'o') as Any);
    expect(writes).toEqual([]);
  });

  // Whatever a hostile options object does when read, the promise is a ConfigurationError
  // naming what was bad: a revoked Proxy throws on every read, a getter may throw.
  const revoked = () => {
    const r = Proxy.revocable({}, {});
    r.revoke();
    return r.proxy;
  };
  const throwing = (into: object, name: string) =>
    Object.defineProperty(into, name, {
      enumerable: true,
      get() {
        throw new Error('getter');
      },
    });
  // (A revoked Proxy as an option's value is not covered: a store, a strategy or an
  // algorithm is recognised by reading its methods, which such a value throws on.)
  it.each(FACTORIES.map((f) => [f.name, f] as const))('%s: a revoked Proxy as the options object', (_, factory) => {
    expect(refusal(() => factory.make(revoked()))).not.toBe('accepted');
  });
  it('a revoked Proxy as a number option is refused naming it (the message does not read it)', () => {
    expectRefused(() => retry({ maxAttempts: revoked() as Any }), 'maxAttempts', 'a revoked Proxy');
  });
  it.each(FACTORIES.map((f) => [f.name, f] as const))('%s: an option whose getter throws', (_, factory) => {
    for (const option of Object.keys(factory.options))
      expectRefused(() => factory.make(throwing({ ...factory.base }, option)), option, 'a throwing getter');
  });
  it('an unknown nested option whose getter throws is refused naming it', () => {
    expectRefused(() => retry({ retryAfter: throwing({}, 'maxMS') as Any }), 'retryAfter.maxMS', 'a throwing getter');
  });
});

describe('options outside the table: helpers, transitions and per-call options', () => {
  it('idempotency({ maxRecords: 2 ** 31 }) names maxRecords', () => {
    expectRefused(() => idempotency({ maxRecords: 2 ** 31 }), 'maxRecords', '2 ** 31');
  });

  it('transactional / transactions.run refuse a misspelt signal', async () => {
    const controller = new AbortController();
    controller.abort();
    let committed = 0;
    const client = { ...txClient, commit: async () => void committed++ };
    // A misspelt `signal`: the transaction commits although the caller gave up on it.
    await transactional(client, () => 1, { signl: controller.signal } as Any).catch(() => {});
    await transactions(client)
      .run(() => 1, { signl: controller.signal } as Any)
      .catch(() => {});
    expect(committed).toBe(0);
  });

  it('transactions.run({ signal: 5 }) names signal', async () => {
    const error = await transactions(txClient)
      .run(() => 1, { signal: 5 } as Any)
      .catch((e: unknown) => e);
    expect(isConfigurationError(error) && error.issues.map((i) => i.option)).toEqual(['signal']);
  });

  it('webhookHandler refuses a url that is no http(s) URL at construction (every alert would fail later)', () => {
    for (const url of [
      'hooks.example.com/alerts',
      'http://user:pass@hooks.example.com/x',
      'http://h:451110000/',
      'http://a b/',
    ])
      expectRefused(() => webhookHandler({ url, fetch: fetchOk }), 'url', url);
    expect(() => webhookHandler({ url: 'HTTPS://[::1]:8443/alerts', fetch: fetchOk })).not.toThrow();
    const leaked = refusal(() =>
      webhookHandler({ url: 'https://alerts:s3cr3t-pw@hooks.example.com/x', fetch: fetchOk }),
    );
    expect(leaked).toEqual(['url']);
    try {
      webhookHandler({ url: 'https://alerts:s3cr3t-pw@hooks.example.com/x', fetch: fetchOk });
    } catch (error) {
      expect(String((error as Error).message)).not.toContain('s3cr3t');
      expect(JSON.stringify((error as { issues: unknown }).issues)).not.toContain('s3cr3t');
    }
  });

  it('webhookHandler refuses a header value with CR/LF (fetch would throw for every alert)', () => {
    expectRefused(
      () => webhookHandler({ url: 'https://x.test', fetch: fetchOk, headers: { authorization: 'Bearer a\r\nb' } }),
      'headers',
      'CR/LF',
    );
  });

  it('throttleTransition(k, windowMs) refuses NaN and a negative window', () => {
    expect(refusal(() => throttleTransition(Number.NaN, -1))).not.toBe('accepted');
  });

  it('a cacheMs of 1e308 gives a valid Cache-Control', () => {
    expect(healthCacheControl(1e308)).toMatch(/^max-age=\d+$/);
    expect(refusal(() => health({ cacheMs: 1e308 }))).not.toBe('accepted');
  });

  it('a window under 1 ms is refused (1e-300 made now / windowMs Infinity: denied for ever), and 1 ms works', async () => {
    for (const make of [fixedWindow, slidingWindow]) {
      expectRefused(() => make({ limit: 1, windowMs: 1e-300 }), 'windowMs', '1e-300');
      expectRefused(() => make({ limit: 1, windowMs: 0.5 }), 'windowMs', '0.5');
    }
    const now = new FakeClock(1_700_000_000_000); // a wall clock's epoch ms
    const limiter = rateLimiter({ algorithm: fixedWindow({ limit: 1, windowMs: 1 }), clock: now });
    await limiter.consume('k');
    expect((await limiter.consume('k')).retryAfterMs).toBe(1);
    await now.advance(1);
    expect((await limiter.consume('k')).allowed).toBe(true);
  });

  it('a gcra or token bucket whose refill time overflows a double is refused (it answered NaN or Infinity)', () => {
    expectRefused(() => gcra({ limit: 1, periodMs: 3e14, burst: 6e293 }), 'burst', 'burst × interval overflows');
    expectRefused(() => gcra({ limit: 1e300, periodMs: 1e-30 }), 'burst', 'interval 0');
    expectRefused(() => tokenBucket({ capacity: 1e308, refillPerSecond: 1e-300 }), 'refillPerSecond', 'Infinity s');
    expectRefused(() => tokenBucket({ refillPerSecond: 1e-322 }), 'refillPerSecond', 'perMs 0');
    expect(() => gcra({ limit: 1, periodMs: 1e12, burst: 1e6 })).not.toThrow();
    expect(() => tokenBucket({ capacity: 1e9, refillPerSecond: 1e-3 })).not.toThrow();
  });

  it('clientIpKey refuses a misspelt option', () => {
    expectRefused(() => clientIpKey('2001:db8::1', { ipv6Prefix: 64 } as Any), 'ipv6Prefix', 'a misspelt name');
  });

  it('clientIpKey throws a ConfigurationError for a bad ipv6PrefixLength', () => {
    expectRefused(() => clientIpKey('2001:db8::1', { ipv6PrefixLength: 0 }), 'ipv6PrefixLength', '0');
  });

  it('errorResponse refuses a misspelt option', () => {
    expectRefused(() => errorResponse(new Error('x'), { expos: true } as Any), 'expos', 'a misspelt name');
  });

  it('errorResponse(error, null) is a ConfigurationError', () => {
    expectRefused(() => errorResponse(new Error('x'), null as Any), 'options', 'null');
  });

  it('toHealthJson refuses a misspelt option and a time that is no time', () => {
    const report = { status: 'pass', checks: { a: { status: 'pass' } } } as Any;
    expectRefused(() => toHealthJson(report, { serviceID: 'x' } as Any), 'serviceID', 'a misspelt name');
    expectRefused(() => toHealthJson(report, { time: Number.NaN }), 'time', 'NaN');
    // A BigInt version threw from JSON.stringify on every health response; notes and links too.
    for (const [option, value] of [
      ['version', 5n],
      ['serviceId', 5],
      ['notes', 'one note'],
      ['links', { about: 5 }],
      ['time', 1e300],
    ] as const)
      expectRefused(() => toHealthJson(report, { [option]: value } as Any), option, String(value));
    expect(toHealthJson(report, { version: '1.2.3', notes: ['n'], links: { about: 'https://x.test' } })).toMatchObject({
      version: '1.2.3',
      notes: ['n'],
    });
  });

  it('per-call options given as an array are refused', async () => {
    const limiter = rateLimiter({ algorithm: tokenBucket(), clock });
    await expect(limiter.wait('k', [] as Any)).rejects.toThrow(/options/);
    await expect(idempotency({ clock }).execute('k', () => 1, [] as Any)).rejects.toThrow(/options/);
    await expect(
      saga('s')
        .step({ name: 'a', run: () => 1 })
        .execute(1, [] as Any),
    ).rejects.toThrow(/options/);
    await expect(transactional(txClient, () => 1, [] as Any)).rejects.toThrow(/options/);
  });
});

describe('durations above 2^31 − 1 ms never fire early (Node fires such a timer after 1 ms)', () => {
  withFakeTimers();
  const never = () => new Promise<never>(() => {});

  it('the fake timers here fire an over-long raw setTimeout at once, as Node does', async () => {
    const fired = vi.fn();
    setTimeout(fired, LONG);
    await soon();
    expect(fired).toHaveBeenCalled();
  });

  it.each<[string, () => Promise<unknown>]>([
    ['timeout(ms)', () => timeout(LONG).execute(never)],
    ['timeout(() => ms)', () => timeout(() => LONG).execute(never)],
    ['timeout({ softMs, hardMs })', () => timeout({ softMs: LONG, hardMs: LONG + 1 }).execute(never)],
    ['chaos latencyMs', () => chaos({ latencyMs: LONG, latencyRate: 1, random: () => 0 }).execute(() => 1)],
    [
      'bulkhead maxQueueMs',
      () => {
        const b = bulkhead({ limit: 1, queue: 1, maxQueueMs: LONG });
        void b.execute(never);
        return b.execute(() => 1);
      },
    ],
    [
      'rateLimiter maxWaitMs',
      async () => {
        const limiter = rateLimiter({ algorithm: fixedWindow({ limit: 1, windowMs: 4 * LONG }), maxWaitMs: 4 * LONG });
        await limiter.consume('k');
        return limiter.wait('k');
      },
    ],
    [
      'webhookHandler timeoutMs',
      async () =>
        webhookHandler({ url: 'https://x.test', fetch: never as Any, timeoutMs: LONG, retry: { maxAttempts: 1 } })(
          {} as Any,
        ),
    ],
    [
      'health check timeoutMs',
      () =>
        health()
          .register('x', () => never(), { timeoutMs: LONG })
          .run(),
    ],
    [
      'messageProcessor soft/hardTimeoutMs',
      () =>
        messageProcessor({
          handler: never,
          deadLetter: () => {},
          softTimeoutMs: LONG,
          hardTimeoutMs: LONG + 1,
          retryTtlMs: 4 * LONG,
        }).process({ id: 'm' }),
    ],
    [
      'resilientClient timeout and deadlineMs',
      () =>
        resilientClient({ retry: false, timeout: LONG, deadlineMs: LONG + 1 }).request(
          { request: {}, method: 'GET', url: 'https://x.test/' },
          never,
        ),
    ],
  ])('%s', async (_, start) => {
    const state = settled(start());
    await soon();
    expect(state.done).toBe(false);
  });

  it('hedge delayMs and retry backoff start no second attempt', async () => {
    let attempts = 0;
    void hedge({ delayMs: LONG }).execute(() => {
      attempts++;
      return never();
    });
    void retry({ maxAttempts: 2, backoff: backoff.constant(LONG), handle: () => true })
      .execute(() => {
        attempts++;
        throw new Error('x');
      })
      .catch(() => {});
    await soon();
    expect(attempts).toBe(2);
  });

  it('circuitBreaker halfOpenAfter keeps it open', async () => {
    const b = circuitBreaker({
      strategy: countWindow({ size: 1, failureRate: 1, minimumCalls: 1 }),
      halfOpenAfter: LONG,
      registry: false,
    });
    await b.execute(() => Promise.reject(new Error('x'))).catch(() => {});
    expect(b.state).toBe('open');
    await soon();
    expect(b.state).toBe('open');
  });

  it('health.start and alerting.start intervalMs run once, not every millisecond', async () => {
    let checks = 0;
    let snapshots = 0;
    health()
      .register('x', () => ++checks > 0)
      .start({ intervalMs: LONG });
    const a = alerting();
    const snapshot = () => {
      snapshots++;
      return metrics().snapshot();
    };
    a.start({ snapshot }, { intervalMs: LONG });
    await soon();
    expect(checks).toBeLessThanOrEqual(1);
    expect(snapshots).toBeLessThanOrEqual(1);
  });

  it('a CoarseClock of resolutionMs above 2^31 − 1 does not tick every millisecond', async () => {
    const { CoarseClock } = await import('./index.js');
    const coarse = new CoarseClock(systemClock, LONG);
    const first = coarse.now();
    await soon();
    expect(coarse.now()).toBe(first);
  });
});
