import { FakeClock } from '../clock/fake-clock.js';
import type { RateLimitAlgorithm, RateLimitDecision } from '../ratelimit/algorithm.js';
import { gcra } from '../ratelimit/gcra.js';
import { rateLimiter } from '../ratelimit/limiter.js';
import { tokenBucket } from '../ratelimit/token-bucket.js';
import { fixedWindow, slidingWindow } from '../ratelimit/windows.js';
import type { Store, Transition } from '../store/store.js';

/** Makes a fresh, empty store for one scenario. */
export type StoreFactory = () => Store | Promise<Store>;

/** One scenario of the store contract: throws (rejects) when the store gets it wrong. */
export interface StoreScenario {
  readonly name: string;
  run(makeStore: StoreFactory): Promise<void>;
}

/** The test-runner functions `runStoreConformance` registers scenarios with (vitest, jest, node:test). */
export interface ConformanceRunner {
  describe(name: string, body: () => void): void;
  it(name: string, body: () => Promise<void>): void;
}

function fail(message: string): never {
  throw new Error(`store conformance: ${message}`);
}

function same(actual: unknown, expected: unknown, what: string): void {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) fail(`${what}: expected ${e}, received ${a}`);
}

type Expect = Partial<RateLimitDecision>;
/** One step of a timeline: at `t` ms, consume `cost` (default 1) and expect parts of the decision. */
type Step = readonly [t: number, expect: Expect, cost?: number];

function timeline(name: string, algorithm: RateLimitAlgorithm, steps: readonly Step[]): StoreScenario {
  return {
    name,
    async run(makeStore) {
      const clock = new FakeClock(0);
      const limiter = rateLimiter({ algorithm, store: await makeStore(), clock });
      for (const [i, [t, expected, cost]] of steps.entries()) {
        await clock.advance(t - clock.now());
        const d = await limiter.consume('k', cost ?? 1);
        const picked = Object.fromEntries(Object.keys(expected).map((f) => [f, d[f as keyof RateLimitDecision]]));
        same(picked, expected, `${name}, step ${i} at ${t} ms`);
      }
    },
  };
}

const allowed = (remaining: number, extra: Expect = {}): Expect => ({ allowed: true, remaining, ...extra });
const denied = (retryAfterMs: number, extra: Expect = {}): Expect => ({ allowed: false, retryAfterMs, ...extra });

interface Claim {
  status: 'pending' | 'done';
  owner: string;
  result?: string;
}
const claim: Transition<Claim, { owner: string; ttlMs: number }, { claimed: boolean; record: Claim }> = {
  name: 'conformance.claim',
  params: null,
  apply(state, input) {
    if (state !== undefined) return { state, output: { claimed: false, record: state }, ttlMs: 0, write: false };
    const record: Claim = { status: 'pending', owner: input.owner };
    return { state: record, output: { claimed: true, record }, ttlMs: input.ttlMs };
  },
};
const counter: Transition<number, { ttlMs: number; max: number }, number> = {
  name: 'conformance.counter',
  params: null,
  apply(state, input) {
    const n = (state ?? 0) + 1;
    return { state: n, output: n, ttlMs: input.ttlMs, accepted: n <= input.max };
  },
};

/** Every scenario of the store contract, for any implementation. */
export function storeConformanceScenarios(): StoreScenario[] {
  return [
    timeline(
      'token bucket: bursts to capacity, then refills continuously',
      tokenBucket({ capacity: 3, refillPerSecond: 1 }),
      [
        [0, allowed(2, { limit: 3, resetMs: 1000, retryAfterMs: 0 })],
        [0, allowed(1)],
        [0, allowed(0, { resetMs: 3000 })],
        [0, denied(1000, { remaining: 0 })],
        [500, denied(500)],
        [1000, allowed(0)],
        [3500, allowed(1, { resetMs: 1500 })],
        [3500, allowed(0), 1.5],
        [3500, denied(2000), 2],
      ],
    ),
    timeline('gcra: burst from idle, then one per emission interval', gcra({ limit: 2, periodMs: 1000, burst: 2 }), [
      [0, allowed(1, { limit: 2, resetMs: 500 })],
      [0, allowed(0, { resetMs: 1000 })],
      [0, denied(500)],
      [250, denied(250)],
      [500, allowed(0)],
      [2000, allowed(0), 2],
      [2000, denied(1000), 2],
    ]),
    timeline('fixed window: a counter per aligned window', fixedWindow({ limit: 2, windowMs: 1000 }), [
      [100, allowed(1, { resetMs: 900 })],
      [200, allowed(0)],
      [999, denied(1, { remaining: 0 })],
      [1000, allowed(1, { resetMs: 1000 })],
      [1500, allowed(0)],
      [1500, denied(500)],
    ]),
    timeline(
      'sliding window: the previous window weighted by its remaining share',
      slidingWindow({ limit: 4, windowMs: 1000 }),
      [
        [0, allowed(3)],
        [0, allowed(2)],
        [0, allowed(1)],
        [0, allowed(0, { resetMs: 2000 })],
        [1000, denied(250)],
        [1250, allowed(0)],
        [1500, allowed(0)],
        [1500, denied(250)],
        [1750, allowed(0)],
        [2000, allowed(0, { resetMs: 2000 })],
      ],
    ),
    {
      name: 'several limits: a request denied by one consumes from none',
      async run(makeStore) {
        const clock = new FakeClock(0);
        const limiter = rateLimiter({
          algorithm: [fixedWindow({ limit: 2, windowMs: 1000 }), fixedWindow({ limit: 3, windowMs: 10_000 })],
          store: await makeStore(),
          clock,
        });
        const at = async (t: number) => {
          await clock.advance(t - clock.now());
          return (await limiter.consume('k')).allowed;
        };
        same([await at(0), await at(0), await at(0)], [true, true, false], 'first second');
        same([await at(1000), await at(1000)], [true, false], 'second second (hour-like limit exhausted)');
        same((await limiter.peek('k')).retryAfterMs, 9000, 'retry after the longer window');
      },
    },
    {
      name: 'peek reports without consuming',
      async run(makeStore) {
        const clock = new FakeClock(0);
        const limiter = rateLimiter({
          algorithm: tokenBucket({ capacity: 1, refillPerSecond: 1 }),
          store: await makeStore(),
          clock,
        });
        same((await limiter.peek('k')).allowed, true, 'peek on an idle key');
        same((await limiter.peek('k')).allowed, true, 'second peek');
        same((await limiter.consume('k')).allowed, true, 'consume after peeks');
        same(
          await limiter.peek('k'),
          { allowed: false, limit: 1, remaining: 0, resetMs: 1000, retryAfterMs: 1000 },
          'peek when empty',
        );
      },
    },
    {
      name: 'reset forgets the key',
      async run(makeStore) {
        const clock = new FakeClock(0);
        const limiter = rateLimiter({
          algorithm: fixedWindow({ limit: 1, windowMs: 60_000 }),
          store: await makeStore(),
          clock,
        });
        await limiter.consume('k');
        same((await limiter.consume('k')).allowed, false, 'second consume');
        await limiter.reset('k');
        same((await limiter.consume('k')).allowed, true, 'consume after reset');
      },
    },
    {
      name: 'a full key expires: its state is dropped once it would be full again',
      async run(makeStore) {
        const store = await makeStore();
        const bucket = tokenBucket({ capacity: 2, refillPerSecond: 1 });
        await store.apply('k', bucket.consume, 1, 0);
        same(await store.get('k', 999), { tokens: 1, at: 0 }, 'state while refilling');
        same(await store.get('k', 1000), undefined, 'state once full');
      },
    },
    {
      name: 'concurrent consumes on one key admit exactly the limit',
      async run(makeStore) {
        const clock = new FakeClock(0);
        const limiter = rateLimiter({
          algorithm: fixedWindow({ limit: 100, windowMs: 60_000 }),
          store: await makeStore(),
          clock,
        });
        const decisions = await Promise.all(Array.from({ length: 1000 }, () => limiter.consume('k')));
        same(decisions.filter((d) => d.allowed).length, 100, 'admitted');
      },
    },
    {
      name: 'claim-if-absent returns the existing record to later callers',
      async run(makeStore) {
        const store = await makeStore();
        const [a, b] = await Promise.all([
          store.apply('idem:1', claim, { owner: 'a', ttlMs: 1000 }, 0),
          store.apply('idem:1', claim, { owner: 'b', ttlMs: 1000 }, 0),
        ]);
        same([a.claimed, b.claimed, b.record.owner], [true, false, 'a'], 'claims');
        await store.set('idem:1', { status: 'done', owner: 'a', result: 'ok' }, 1000, 10);
        same(
          (await store.apply('idem:1', claim, { owner: 'c', ttlMs: 1000 }, 20)).record,
          { status: 'done', owner: 'a', result: 'ok' },
          'completed record',
        );
        same(
          (await store.apply('idem:1', claim, { owner: 'c', ttlMs: 1000 }, 1010)).claimed,
          true,
          'claim after expiry',
        );
      },
    },
    {
      name: 'a counter increments atomically and expires with its TTL',
      async run(makeStore) {
        const store = await makeStore();
        const input = { ttlMs: 100, max: 1000 };
        const counts = await Promise.all(Array.from({ length: 50 }, () => store.apply('retry:m1', counter, input, 0)));
        same(Math.max(...counts), 50, 'last count');
        same(new Set(counts).size, 50, 'distinct counts');
        same(await store.apply('retry:m1', counter, input, 100), 1, 'count after expiry');
      },
    },
    {
      name: 'applyAll writes every key or none',
      async run(makeStore) {
        const store = await makeStore();
        await store.set('b', 1, 1000, 0);
        const refused = await store.applyAll(
          [
            { key: 'a', transition: counter, input: { ttlMs: 1000, max: 5 } },
            { key: 'b', transition: counter, input: { ttlMs: 1000, max: 1 } },
          ],
          0,
        );
        same(refused, [1, 2], 'outputs of a refused batch');
        same([await store.get('a', 0), await store.get('b', 0)], [undefined, 1], 'states after a refused batch');
        const accepted = await store.applyAll(
          [
            { key: 'a', transition: counter, input: { ttlMs: 1000, max: 5 } },
            { key: 'b', transition: counter, input: { ttlMs: 1000, max: 5 } },
          ],
          0,
        );
        same(accepted, [1, 2], 'outputs of an accepted batch');
        same([await store.get('a', 0), await store.get('b', 0)], [1, 2], 'states after an accepted batch');
      },
    },
    {
      name: 'set, get, delete and keys by prefix',
      async run(makeStore) {
        const store = await makeStore();
        await store.set('saga:1', { step: 2 }, Number.POSITIVE_INFINITY, 0);
        await store.set('saga:2', { step: 1 }, 50, 0);
        await store.set('other:1', { step: 1 }, Number.POSITIVE_INFINITY, 0);
        same(await store.get('saga:1', 10), { step: 2 }, 'get');
        same((await store.keys('saga:', 10)).sort(), ['saga:1', 'saga:2'], 'keys before expiry');
        same(await store.keys('saga:', 50), ['saga:1'], 'keys after expiry');
        same((await store.keys('', 10, { limit: 2 })).length, 2, 'keys with a limit');
        same(await store.delete('saga:1'), true, 'delete of a live key');
        same(await store.delete('saga:1'), false, 'delete of a missing key');
        same(await store.get('saga:1', 10), undefined, 'get after delete');
      },
    },
  ];
}

/**
 * Registers every scenario with a test runner.
 *
 * @example
 * import { describe, it } from 'vitest';
 * runStoreConformance('memoryStore', () => memoryStore(), { describe, it });
 */
export function runStoreConformance(name: string, makeStore: StoreFactory, runner: ConformanceRunner): void {
  runner.describe(`${name} conforms to the Store contract`, () => {
    for (const scenario of storeConformanceScenarios()) runner.it(scenario.name, () => scenario.run(makeStore));
  });
}
