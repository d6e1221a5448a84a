/**
 * A Redis that answers, but slower than calls come (its one thread saturated: large records,
 * a long SCAN, another tenant's load): every answer is late, and the client holds every
 * command not answered yet. The store must not keep sending them all.
 */
import { isStoreUnavailableError, storeKey, storeNamespace } from '@resilience/core';
import { FakeClock } from '@resilience/core/testing';
import { describe, expect, it } from 'vitest';
import { useServer } from './testing/fixture.js';
import { redisStore } from './testing/untimed.js';

const fixture = useServer();

/**
 * The fixture's client behind a gate: each command waits in `held` (as a client keeps the
 * commands Redis has not answered) until `serve()` lets the oldest one through, so Redis
 * answers one command at a time, in order, as a saturated server would.
 */
function saturated() {
  const held: (() => Promise<void>)[] = [];
  let sent = 0;
  const hold =
    (command: 'evalsha' | 'eval') =>
    (...args: unknown[]): Promise<unknown> => {
      sent++;
      return new Promise((resolve, reject) => {
        held.push(() =>
          (fixture.client[command] as (...a: unknown[]) => Promise<unknown>)(...args).then(resolve, reject),
        );
      });
    };
  return {
    client: { evalsha: hold('evalsha'), eval: hold('eval'), publish: () => Promise.resolve(0) },
    get held() {
      return held.length;
    },
    get sent() {
      return sent;
    },
    /** Lets the oldest command through and waits until the store has its answer. */
    async serve() {
      await held.shift()?.();
      await new Promise((resolve) => setImmediate(resolve));
    },
  };
}

describe('redisStore over a Redis that answers slower than calls come', () => {
  it('holds at most about timeoutMs of calls in the client, not every call since the overload began', async () => {
    const redis = saturated();
    const clock = new FakeClock();
    const store = redisStore({ client: redis.client, timeoutMs: 200, clock });
    const key = storeKey(storeNamespace('test', 'slow'), 'k');
    const outcomes: Promise<unknown>[] = [];
    let most = 0;
    // 10 calls each 20 ms (500 a second); Redis answers one each 20 ms (50 a second), every answer late.
    for (let step = 0; step < 200; step++) {
      for (let i = 0; i < 10; i++) outcomes.push(store.get(key, 0).catch((e: unknown) => e));
      await redis.serve();
      most = Math.max(most, redis.held);
      await clock.advance(20);
    }
    await clock.advance(200);
    for (const outcome of await Promise.all(outcomes)) {
      if (outcome !== undefined) expect(isStoreUnavailableError(outcome)).toBe(true);
    }
    // 2 000 calls in 4 s. The client never held more than timeoutMs of them (100) and the 10 of the step in which
    // the first timed out (before: every call since the overload began, 1 810).
    expect(most).toBeLessThanOrEqual(110);
    expect(redis.sent).toBeLessThan(300);
  });
});
