import {
  bulkhead,
  circuitBreaker,
  consecutive,
  fixedWindow,
  gcra,
  handle,
  pipeline,
  rateLimiter,
  timeWindow,
} from '@resilience/core';
import { FakeClock } from '@resilience/core/testing';
import * as cockatiel from 'cockatiel';
import CircuitBreaker from 'opossum';
import { RateLimiterMemory } from 'rate-limiter-flexible';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

// docs/migrating.md's opossum notes, run side by side: opossum on vitest's fake timers (its
// rolling window rotates on setInterval), ours on a FakeClock.
const succeed = async () => 'ok';
const fail = async () => {
  throw new Error('down');
};
const call = (f: () => Promise<string>) => f();

describe("opossum's thresholds beside a timeWindow breaker", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const both = (resetTimeout: number) => {
    const clock = new FakeClock();
    const theirs = new CircuitBreaker(call, {
      errorThresholdPercentage: 50,
      volumeThreshold: 10,
      resetTimeout,
      timeout: false,
    });
    const ours = circuitBreaker({
      clock,
      registry: false,
      strategy: timeWindow({ windowMs: 10_000, buckets: 10, failureRate: 0.5, minimumCalls: 10 }),
      halfOpenAfter: resetTimeout,
    });
    const fire = async (f: () => Promise<string>) => {
      await theirs.fire(f).catch(() => {});
      await ours.execute(() => f()).catch(() => {});
    };
    const advance = async (ms: number) => {
      await vi.advanceTimersByTimeAsync(ms);
      await clock.advance(ms);
    };
    return { theirs, ours, fire, advance };
  };

  it('5 successes then 5 failures open ours (reaching 50 %), not opossum (exceeding it)', async () => {
    const { theirs, ours, fire } = both(30_000);
    for (let i = 0; i < 5; i++) await fire(succeed);
    for (let i = 0; i < 5; i++) await fire(fail);
    expect([theirs.opened, ours.state]).toEqual([false, 'open']);
    theirs.shutdown();
  });

  it.each([
    // resetTimeout shorter than the window: opossum's failures are still in it after the probe.
    [5_000, true],
    // The doc's example (30 s, 10 s): they have left it, so one failure opens neither.
    [30_000, false],
  ])('after a recovery with resetTimeout %i, one failure opens opossum: %s; ours never', async (reset, reopens) => {
    const { theirs, ours, fire, advance } = both(reset);
    for (let i = 0; i < 10; i++) await fire(fail);
    expect([theirs.opened, ours.state]).toEqual([true, 'open']);
    await advance(reset);
    expect([theirs.halfOpen, ours.state]).toEqual([true, 'half-open']);
    await fire(succeed);
    expect([theirs.closed, ours.state]).toEqual([true, 'closed']);
    await fire(fail);
    expect([theirs.opened, ours.state]).toEqual([reopens, 'closed']);
    theirs.shutdown();
  });
});

// docs/migrating.md's p-limit and bottleneck section: what their ports do (bottleneck's
// numbers, run on its 2.19.5: maxConcurrent 2 and minTime 100 start 250 ms calls at 0, 100,
// 250, 350 and 500 ms).
describe("p-limit's and bottleneck's limits as a bulkhead", () => {
  it('queues nothing unless given a queue, where pLimit(2) queues every call', async () => {
    const clock = new FakeClock();
    const hold = () => clock.sleep(10);
    const bare = bulkhead({ limit: 2, clock });
    const outcomes = Promise.allSettled([1, 2, 3].map(() => bare.execute(hold)));
    await clock.advance(10);
    expect((await outcomes).map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'rejected']);
    const queued = bulkhead({ limit: 2, queue: 1_000, clock });
    const all = Promise.allSettled([1, 2, 3].map(() => queued.execute(hold)));
    await clock.advance(20);
    expect((await all).map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
  });

  it("spaces the starts as bottleneck's minTime with a gcra limiter inside the bulkhead", async () => {
    const clock = new FakeClock();
    const pool = bulkhead({ limit: 2, queue: 100, clock });
    const pace = rateLimiter({ name: 'users', clock, algorithm: gcra({ limit: 1, periodMs: 100 }) });
    const starts: number[] = [];
    const call = pipeline(pool, pace.policy({ key: 'users' })).wrap(async () => {
      starts.push(clock.now());
      await clock.sleep(250);
    });
    const all = Promise.all([1, 2, 3, 4, 5].map(() => call()));
    await clock.advance(1_000);
    await all;
    expect(starts).toEqual([0, 100, 250, 350, 500]);
  });
});

// docs/migrating.md's rate-limiter-flexible table: get/peek, delete/reset, consumedPoints.
describe("rate-limiter-flexible's direct API beside a rateLimiter", () => {
  it('reads a fresh key, counts a refusal and deletes as the table says', async () => {
    const theirs = new RateLimiterMemory({ points: 2, duration: 60 });
    const ours = rateLimiter({
      name: 'api',
      clock: new FakeClock(),
      algorithm: fixedWindow({ limit: 2, windowMs: 60_000 }),
    });
    expect(await theirs.get('k')).toBeNull();
    expect(await ours.peek('k')).toMatchObject({ allowed: true, remaining: 2 });
    for (let i = 0; i < 2; i++) {
      await theirs.consume('k');
      await ours.consume('k');
    }
    // A refusal: theirs rejects with a RateLimiterRes (no Error) that counted the point.
    const refused = await theirs.consume('k').catch((res: unknown) => res);
    expect(refused).not.toBeInstanceOf(Error);
    expect(refused).toMatchObject({ consumedPoints: 3, remainingPoints: 0 });
    const decision = await ours.consume('k');
    expect(decision).toMatchObject({ allowed: false, remaining: 0 });
    expect(decision.limit - decision.remaining).toBe(2);
    expect([await theirs.delete('k'), await theirs.delete('k')]).toEqual([true, false]);
    expect(await ours.reset('k')).toBeUndefined();
    expect(await ours.peek('k')).toMatchObject({ allowed: true, remaining: 2 });
  });
});

// docs/migrating.md's cockatiel table: an error its handle policy leaves out.
describe("cockatiel's unhandled errors beside a narrower handle", () => {
  it('are ignored by a ConsecutiveBreaker, where ours counts them as successes', async () => {
    class MyError extends Error {}
    const mine = async () => {
      throw new MyError();
    };
    const other = async () => {
      throw new Error('not mine');
    };
    const theirs = cockatiel.circuitBreaker(cockatiel.handleType(MyError), {
      halfOpenAfter: 10_000,
      breaker: new cockatiel.ConsecutiveBreaker(2),
    });
    const ours = circuitBreaker({
      clock: new FakeClock(),
      registry: false,
      strategy: consecutive(2),
      handle: handle.errors(MyError),
    });
    for (const f of [mine, other, mine]) {
      await theirs.execute(f).catch(() => {});
      await ours.execute(f).catch(() => {});
    }
    expect([theirs.state, ours.state]).toEqual([cockatiel.CircuitState.Open, 'closed']);
  });
});
