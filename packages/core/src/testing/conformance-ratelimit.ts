/** Scenarios for the rate-limit algorithms' transitions, driven through `rateLimiter` on the store. */
import { FakeClock } from '../clock/fake-clock.js';
import type { RateLimitAlgorithm, RateLimitDecision } from '../ratelimit/algorithm.js';
import { gcra } from '../ratelimit/gcra.js';
import { rateLimiter } from '../ratelimit/limiter.js';
import { tokenBucket } from '../ratelimit/token-bucket.js';
import { fixedWindow, slidingWindow } from '../ratelimit/windows.js';
import { type StoreScenario, same } from './conformance-kit.js';

type Expect = Partial<RateLimitDecision>;
/** One step of a timeline: at `t` ms, consume `cost` (default 1) and expect parts of the decision. */
type Step = readonly [t: number, expect: Expect, cost?: number];

function timeline(name: string, algorithm: RateLimitAlgorithm, steps: readonly Step[], t0 = 0): StoreScenario {
  return {
    name,
    async run(makeStore) {
      const clock = new FakeClock(t0);
      const limiter = rateLimiter({ algorithm, store: await makeStore(), clock });
      for (const [i, [t, expected, cost]] of steps.entries()) {
        await clock.advance(t0 + t - clock.now());
        const d = await limiter.consume('k', cost ?? 1);
        const picked = Object.fromEntries(Object.keys(expected).map((f) => [f, d[f as keyof RateLimitDecision]]));
        same(picked, expected, `${name}, step ${i} at ${t} ms`);
      }
    },
  };
}

const allowed = (remaining: number, extra: Expect = {}): Expect => ({ allowed: true, remaining, ...extra });
const denied = (retryAfterMs: number, extra: Expect = {}): Expect => ({ allowed: false, retryAfterMs, ...extra });

export const rateLimitScenarios: readonly StoreScenario[] = [
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
  // From an epoch-sized time (17e11 ms: doubles exact to ~2.4e-4 ms), as a store sees the system clock's.
  timeline(
    'gcra at an epoch time',
    gcra({ limit: 6, periodMs: 1000, burst: 1 }),
    [
      [0, allowed(0)],
      [0, denied(167)],
      [167, allowed(0)],
    ],
    17e11,
  ),
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
];
