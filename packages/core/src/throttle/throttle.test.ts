import { describe, expect, it } from 'vitest';
import { circuitBreaker } from '../breaker/breaker.js';
import { consecutive } from '../breaker/strategy.js';
import { FakeClock } from '../clock/fake-clock.js';
import { seededRandom } from '../clock/seeded-random.js';
import { sequenceRandom } from '../clock/sequence-random.js';
import { isTransient } from '../errors/classify.js';
import { ConfigurationError, isOwnRejection, RateLimitExceededError, ThrottledError } from '../errors/errors.js';
import { handle } from '../errors/handle.js';
import { pipeline } from '../pipeline/pipeline.js';
import { rateLimiter } from '../ratelimit/limiter.js';
import { tokenBucket } from '../ratelimit/token-bucket.js';
import { retry } from '../retry/retry.js';
import { THROTTLE_DEFAULTS } from './options.js';
import { adaptiveThrottle } from './throttle.js';

const overloaded = Object.assign(new Error('503'), { status: 503 });
const fail = () => Promise.reject(overloaded);
const ok = () => 'ok';

describe('adaptiveThrottle', () => {
  it('defaults: k = 2 over two minutes', () => {
    expect(THROTTLE_DEFAULTS).toEqual({ k: 2, windowMs: 120_000, maxRejection: 0.8, name: 'throttle' });
  });

  it('lets everything through while the dependency accepts', async () => {
    const throttle = adaptiveThrottle({ clock: new FakeClock(), random: sequenceRandom(0) });
    for (let i = 0; i < 20; i++) await expect(throttle.execute(ok)).resolves.toBe('ok');
    expect(throttle.stats).toEqual({ requests: 20, accepts: 20, probability: 0 });
  });

  it('counts a request once it has ended: a burst to a healthy dependency is not refused for the calls still in flight', async () => {
    // Draws of 0 refuse whenever the probability is above 0.
    const throttle = adaptiveThrottle({ clock: new FakeClock(), random: sequenceRandom(0) });
    const answers: Array<(value: string) => void> = [];
    const burst = Array.from({ length: 20 }, () =>
      throttle.execute(() => new Promise<string>((resolve) => answers.push(resolve))),
    );
    expect(throttle.stats).toEqual({ requests: 0, accepts: 0, probability: 0 });
    for (const answer of answers) answer('ok');
    expect(await Promise.all(burst)).toHaveLength(20);
    expect(throttle.stats).toEqual({ requests: 20, accepts: 20, probability: 0 });
    // An overloaded answer counts as a request not accepted, once it has come.
    const failing = throttle.execute(fail).catch((e: unknown) => e);
    expect(throttle.stats.requests).toBe(20);
    expect(await failing).toBe(overloaded);
    expect(throttle.stats).toMatchObject({ requests: 21, accepts: 20 });
  });

  it('sheds requests locally once the dependency refuses them, with a typed own rejection', async () => {
    const clock = new FakeClock();
    const events: unknown[] = [];
    const throttle = adaptiveThrottle({ clock, random: sequenceRandom(0.7) });
    throttle.onEvent((e) => events.push(e));
    let calls = 0;
    const refused = () => {
      calls++;
      return fail();
    };
    for (let i = 0; i < 3; i++) await expect(throttle.execute(refused)).rejects.toBe(overloaded);
    // p was 1/2, then 2/3; now (3 − 0) / 4 = 0.75 > 0.7: rejected here, never sent
    const error = await throttle.execute(refused).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ThrottledError);
    expect((error as ThrottledError).probability).toBe(0.75);
    expect(calls).toBe(3);
    expect(events).toEqual([{ type: 'rejected', policy: 'throttle', reason: 'throttled', probability: 0.75 }]);
    expect(isOwnRejection(error)).toBe(true);
    expect(isTransient(error)).toBe(false);
    expect(handle.all()(error)).toBe(false);
  });

  it('recovers as the window slides past the refusals', async () => {
    const clock = new FakeClock();
    const throttle = adaptiveThrottle({ clock, random: sequenceRandom(0.5) });
    for (let i = 0; i < 5; i++) await throttle.execute(fail).catch(() => {});
    expect(throttle.stats.probability).toBeGreaterThan(0.5);
    await clock.advance(120_000);
    expect(throttle.stats).toEqual({ requests: 0, accepts: 0, probability: 0 });
    await expect(throttle.execute(ok)).resolves.toBe('ok');
  });

  it('counts answers that are not overload (a 404) as accepted, and own rejections from inside as neither', async () => {
    const throttle = adaptiveThrottle({ clock: new FakeClock(), random: sequenceRandom(0.99) });
    await throttle.execute(() => Promise.reject(Object.assign(new Error('404'), { status: 404 }))).catch(() => {});
    await throttle.execute(() => Promise.reject(new RateLimitExceededError(10))).catch(() => {});
    expect(throttle.stats).toMatchObject({ requests: 1, accepts: 1 });
  });

  it('does not count a burst its own rate limit refused (the dependency never saw it) against a healthy dependency', async () => {
    const clock = new FakeClock();
    // Draws of 0 refuse whenever the probability is above 0.
    const throttle = adaptiveThrottle({ clock, random: sequenceRandom(0) });
    const limiter = rateLimiter({ algorithm: tokenBucket({ capacity: 10, refillPerSecond: 10 }), clock });
    const client = pipeline(throttle, limiter.policy({ key: 'host', maxWaitMs: 0 }));
    const burst = await Promise.allSettled(Array.from({ length: 30 }, () => client.execute(ok)));
    expect(burst.filter((r) => r.status === 'fulfilled')).toHaveLength(10);
    expect(throttle.stats).toEqual({ requests: 10, accepts: 10, probability: 0 });
    await clock.advance(1_000); // the quota is back: every request the dependency saw, it accepted
    const next = await Promise.allSettled(Array.from({ length: 10 }, () => client.execute(ok)));
    expect(next.filter((r) => r.status === 'rejected')).toEqual([]);
  });

  it('takes the overload test as an option', async () => {
    const throttle = adaptiveThrottle({ clock: new FakeClock(), overloaded: () => false });
    await throttle.execute(fail).catch(() => {});
    expect(throttle.stats).toMatchObject({ requests: 1, accepts: 1 });
  });

  it('keeps the call’s own error when the overload test throws, and refuses an async one', async () => {
    const throttle = adaptiveThrottle({
      clock: new FakeClock(),
      overloaded: (e) => (e as { response: { status: number } }).response.status === 503,
    });
    const own = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }); // no `response`
    await expect(throttle.execute(() => Promise.reject(own))).rejects.toBe(own);
    expect(throttle.stats).toMatchObject({ requests: 1, accepts: 1 }); // a test that throws says no, as handle's
    expect(() => adaptiveThrottle({ overloaded: (async () => true) as never })).toThrow(/overloaded/);
  });

  it('is not retried by default, and a breaker outside it does not count it', async () => {
    const clock = new FakeClock();
    const throttle = adaptiveThrottle({ clock, random: sequenceRandom(0) });
    for (let i = 0; i < 3; i++) await throttle.execute(fail).catch(() => {});
    const breaker = circuitBreaker({ strategy: consecutive(1), clock, registry: false });
    let calls = 0;
    const policy = retry({ maxAttempts: 3, clock });
    const error = await policy
      .execute(() => breaker.execute(() => throttle.execute(() => ++calls)))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ThrottledError);
    expect(calls).toBe(0);
    expect(policy.stats.attempts).toBe(1);
    expect(breaker.state).toBe('closed');
  });

  // Refused requests count as requests (Google SRE). After an outage longer than the window, the
  // window held only failures, so the few requests let through could never outweigh the
  // refusals counted: the formula alone refused 100 % of calls 4 minutes after the dependency
  // was back, and still 80 % after 6. The cap lets one request in five through, so accepts
  // build up and the throttle lets everything through again within about a window and a half.
  it('lets calls through again once a dependency is back after an outage longer than its window', async () => {
    const clock = new FakeClock();
    const throttle = adaptiveThrottle({ clock, random: seededRandom(7) });
    let down = true;
    const call = () =>
      throttle
        .execute(() => (down ? fail() : ok()))
        .then(
          () => true,
          () => false,
        );
    const second = async () => {
      let answered = 0;
      for (let i = 0; i < 10; i++) {
        if (await call()) answered++;
        await clock.advance(100);
      }
      return answered;
    };
    for (let s = 0; s < 300; s++) await second(); // 5 minutes down, 10 calls a second
    expect(throttle.stats.probability).toBe(0.8);
    down = false;
    const answered: number[] = [];
    for (let s = 0; s < 240; s++) answered.push(await second());
    const sum = (from: number, to: number) => answered.slice(from, to).reduce((a, b) => a + b, 0);
    expect(sum(0, 60)).toBeGreaterThanOrEqual(60); // at least one call in five from the start
    expect(sum(180, 240)).toBe(600); // all of them by three minutes after
    expect(throttle.stats.probability).toBe(0);
  });

  it('sheds no more than maxRejection of requests; 1 is the formula uncapped', async () => {
    for (const maxRejection of [0, 0.5, 1]) {
      const throttle = adaptiveThrottle({ clock: new FakeClock(), random: sequenceRandom(0.6), maxRejection });
      for (let i = 0; i < 50; i++) await throttle.execute(fail).catch(() => {});
      expect(throttle.stats.probability).toBe(
        Math.min(maxRejection, throttle.stats.requests / (throttle.stats.requests + 1)),
      );
    }
    expect(() => adaptiveThrottle({ maxRejection: 1.5 })).toThrow(/maxRejection: received 1.5/);
    expect(() => adaptiveThrottle({ maxRejection: -0.1 })).toThrow(/maxRejection/);
  });

  it('rejects bad options naming each', () => {
    expect(() => adaptiveThrottle({ k: 0.5, windowMs: 5 })).toThrow(ConfigurationError);
    expect(() => adaptiveThrottle({ k: 0.5 })).toThrow(/k: received 0.5/);
    // @ts-expect-error misspelt
    expect(() => adaptiveThrottle({ K: 2 })).toThrow(/did you mean k/);
  });
});
