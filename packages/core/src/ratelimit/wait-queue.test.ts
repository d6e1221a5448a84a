import { describe, expect, it } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
import { rateLimiter } from './limiter.js';
import { tokenBucket } from './token-bucket.js';

describe('rateLimiter.wait queues', () => {
  it('takes nothing for waiters whose shared signal aborted, whatever order they hear of it', async () => {
    const clock = new FakeClock();
    const limiter = rateLimiter({ algorithm: tokenBucket({ capacity: 2, refillPerSecond: 1 }), clock });
    await limiter.consume('k', 2);
    const caller = new AbortController();
    const big = limiter.wait('k', { cost: 2, signal: caller.signal }).catch((e: unknown) => e);
    const small = limiter.wait('k', { cost: 1, signal: caller.signal }).catch((e: unknown) => e);
    await clock.advance(1_500); // one token is back; the head still needs two
    const reason = new Error('caller gave up');
    caller.abort(reason);
    expect(await big).toBe(reason);
    expect(await small).toBe(reason);
    expect(await limiter.peek('k')).toMatchObject({ remaining: 1 });
  });
});
