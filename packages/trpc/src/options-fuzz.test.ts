// Every link and middleware fed hostile options: each must be refused at construction with a
// ConfigurationError naming the option (docs/README.md, "Bad input fails loudly"), never taken
// as "not set" because it is falsy, nor read as options when it is an array or a Map.
// Durations past 2^31 − 1 ms (Node fires such a timer after 1 ms) must not fire early.
import { idempotency, rateLimiter, tokenBucket } from '@resilience/core';
import type { Operation } from '@trpc/client';
import { describe, expect, it } from 'vitest';
import { LONG, settled, soon, withFakeTimers } from '../../../test-kit/long-timers.js';
import { expectRefused, named } from '../../../test-kit/refusal.js';
import { circuitBreakerLink, rateLimitLink, retryLink, timeoutLink } from './client.js';
import { errorFormatter, idempotentMutation, rateLimitMiddleware, responseMeta, timeoutMiddleware } from './server.js';

// biome-ignore lint/suspicious/noExplicitAny: feeding the links what their types forbid is the point.
type Any = any;

const limiter = rateLimiter({ algorithm: tokenBucket() });
const FALSY = [0, Number.NaN, '', null, false];
const NUMBERS = [Number.NaN, Number.POSITIVE_INFINITY, -1, '100', 5n, {}, [], null, () => 1, true, false];
const NOT_FUNCTION = [5, 'f', {}, [], null, true, false, 0, ''];
const NOT_OBJECT = [5, 'x', [], [1], null, true, false, 0, '', new Map()];
const NOT_CLOCK = [{}, 5, { now: () => 0 }, ...FALSY];

interface Factory {
  readonly name: string;
  readonly make: (options: Any) => unknown;
  readonly base: Record<string, unknown>;
  readonly options: Readonly<Record<string, readonly unknown[]>>;
}

const FACTORIES: readonly Factory[] = [
  {
    name: 'retryLink',
    make: retryLink,
    base: {},
    options: { retry: NOT_OBJECT, idempotent: NOT_FUNCTION },
  },
  {
    name: 'timeoutLink',
    make: timeoutLink,
    base: { ms: 100 },
    options: { ms: [...NUMBERS, 0], strategy: ['polite', 5, {}, ...FALSY], clock: NOT_CLOCK },
  },
  {
    name: 'rateLimitLink',
    make: rateLimitLink,
    base: { limiter },
    options: {
      limiter: [{}, 5, 'x', ...FALSY],
      key: NOT_FUNCTION,
      maxWaitMs: NUMBERS,
      subscriptions: [1, 'true', {}, null, 0],
    },
  },
  {
    name: 'circuitBreakerLink',
    make: circuitBreakerLink,
    base: { breaker: {} },
    options: {
      breaker: NOT_OBJECT,
      key: NOT_FUNCTION,
      maxKeys: [...NUMBERS, 0, 0.5],
      name: [5, {}, [], true, ...FALSY],
      clock: NOT_CLOCK,
      random: [...NOT_FUNCTION, async () => 0.5], // an async source: every draw NaN
    },
  },
  {
    name: 'idempotentMutation',
    make: (o) => idempotentMutation(o, () => 1),
    base: {},
    options: {
      idempotency: [5, 'x', [1], true],
      key: NOT_FUNCTION,
      scope: NOT_FUNCTION,
      required: [1, 'true', {}, null, 0],
      minKeyLength: [...NUMBERS, 0, 0.5],
      maxKeyLength: [...NUMBERS, 0, 0.5],
      maxResultBytes: [...NUMBERS, 0.5],
      logger: [{}, 5, console.log, ...FALSY],
      transformer: [{}, 5, 'superjson', { serialize: () => '' }, ...FALSY],
    },
  },
  {
    name: 'rateLimitMiddleware',
    make: rateLimitMiddleware,
    base: { limiter, key: () => 'k' },
    options: {
      limiter: [{}, 5, 'x', ...FALSY],
      key: NOT_FUNCTION,
      cost: [...NUMBERS, 0],
      headers: ['draft-99', 5, {}, null, true],
      clock: NOT_CLOCK,
    },
  },
  {
    name: 'timeoutMiddleware',
    make: timeoutMiddleware,
    base: { ms: 100 },
    options: { ms: [...NUMBERS, 0], clock: NOT_CLOCK },
  },
];

describe('every option refuses hostile values, naming it', () => {
  for (const factory of FACTORIES) {
    describe(factory.name, () => {
      it('takes its smallest valid options, a null-prototype copy and a frozen one', () => {
        expect(() => factory.make({ ...factory.base })).not.toThrow();
        expect(() => factory.make(Object.assign(Object.create(null), factory.base))).not.toThrow();
        expect(() => factory.make(Object.freeze({ ...factory.base }))).not.toThrow();
      });
      for (const [option, values] of Object.entries(factory.options)) {
        it(`${option}`, () => {
          for (const value of values) {
            expectRefused(() => factory.make({ ...factory.base, [option]: value }), option, String(value));
          }
        });
      }
      it('a misspelt name, and options that are no plain object', () => {
        for (const option of Object.keys(factory.options)) {
          const slip = `${option.slice(0, -1)}${option.slice(-1).toUpperCase()}`;
          expectRefused(() => factory.make({ ...factory.base, [slip]: 1 }), slip, 'a misspelt name');
        }
        for (const options of ['x', 5, [], [factory.base], new Map(), Object.create(factory.base)]) {
          expectRefused(() => factory.make(options), 'options', String(options));
        }
      });
    });
  }

  it('nested options by their path', () => {
    expectRefused(() => retryLink({ retry: { maxAtempts: 2 } as Any }), 'retry.maxAtempts', 'a misspelt name');
    expectRefused(() => retryLink({ retry: { budget: { ratio: -1 } } }), 'retry.budget.ratio', '-1');
    expectRefused(() => circuitBreakerLink({ breaker: { halfOpenAfter: -1 } }), 'breaker.halfOpenAfter', '-1');
    expectRefused(() => idempotentMutation({ idempotency: { ttlMs: 0 } }, () => 1), 'idempotency.ttlMs', '0');
  });

  it('errorFormatter and responseMeta take a function or nothing', () => {
    for (const value of [5, 'f', {}, null]) {
      expectRefused(() => errorFormatter(value as Any), 'format', String(value));
      expectRefused(() => responseMeta(value as Any), 'own', String(value));
    }
  });

  it('a Symbol or a null-prototype object as a key length is refused by name, not a raw TypeError', () => {
    for (const value of [Symbol('n'), Object.create(null)]) {
      expectRefused(() => idempotentMutation({ minKeyLength: value }, () => 1), 'minKeyLength', 'exotic');
      expectRefused(() => idempotentMutation({ maxKeyLength: value }, () => 1), 'maxKeyLength', 'exotic');
    }
  });

  it('never writes to the options', () => {
    const options = { retry: { maxAttempts: 2, budget: { ratio: 0.2 } } };
    const copy = structuredClone(options);
    retryLink(options);
    named(() => circuitBreakerLink({ breaker: options.retry as Any })); // refused, and read only
    expect(options).toEqual(copy);
    const store = { idempotency: idempotency() };
    idempotentMutation(store, () => 1);
    expect(Object.keys(store)).toEqual(['idempotency']);
  });
});

describe('durations past 2^31 − 1 ms do not fire early', () => {
  withFakeTimers();

  it('timeoutMiddleware ms', async () => {
    const middleware = timeoutMiddleware({ ms: LONG });
    const state = settled(middleware({ next: () => new Promise(() => {}) } as Any));
    await soon();
    expect(state.done).toBe(false);
  });

  it('timeoutLink ms and rateLimitLink maxWaitMs', async () => {
    const op = { id: 1, type: 'query', path: 'p', input: undefined, context: {}, signal: null } as unknown as Operation;
    const hang = { subscribe: () => ({ unsubscribe() {} }) };
    const run = (link: Any) =>
      new Promise((resolve, reject) =>
        link({})({ op, next: () => hang }).subscribe({ next: resolve, error: reject, complete: () => {} }),
      );
    const timed = settled(run(timeoutLink({ ms: LONG })));
    const quota = rateLimiter({
      algorithm: tokenBucket({ capacity: 1, refillPerSecond: 1_000 / (2 * LONG) }),
      maxWaitMs: 4 * LONG,
    });
    await quota.consume('trpc');
    const waiting = settled(run(rateLimitLink({ limiter: quota })));
    await soon();
    expect(timed.done).toBe(false);
    expect(waiting.done).toBe(false);
  });
});
