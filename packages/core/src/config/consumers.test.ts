import { describe, expect, it, vi } from 'vitest';
import { circuitBreaker } from '../breaker/breaker.js';
import { FakeClock } from '../clock/fake-clock.js';
import { messageProcessor } from '../messages/processor.js';
import { rateLimiter } from '../ratelimit/limiter.js';
import { tokenBucket } from '../ratelimit/token-bucket.js';
import { toBreakerOptions, toMessageProcessorOptions, toRateLimiterOptions } from './consumers.js';
import { optionsFromEnv } from './env.js';

describe('to…Options', () => {
  it('builds a breaker that opens after CIRCUIT_BREAKER_FAIL_MAX failures and probes after the reset timeout', async () => {
    const clock = new FakeClock();
    const env = optionsFromEnv({ CIRCUIT_BREAKER_FAIL_MAX: '3', CIRCUIT_BREAKER_RESET_TIMEOUT: '60' }, '');
    const breaker = circuitBreaker({ ...toBreakerOptions(env.breaker), clock, registry: false });
    for (let i = 0; i < 3; i++) await breaker.execute(() => Promise.reject(new Error('down'))).catch(() => {});
    expect(breaker.state).toBe('open');
    await clock.advance(59_999);
    expect(breaker.state).toBe('open');
    await clock.advance(1);
    expect(breaker.state).toBe('half-open');
    expect(toBreakerOptions(undefined)).toEqual({});
    expect(toBreakerOptions({ resetTimeoutMs: 5 })).toEqual({ halfOpenAfter: 5 });
  });

  it('builds a message processor with the retry tracker and the task time limits', async () => {
    const clock = new FakeClock();
    const env = optionsFromEnv(
      { RETRY_TRACKER_MAX_RETRIES: '1', RETRY_TRACKER_TTL: '600', TASK_HARD_TIME_LIMIT: '2' },
      '',
    );
    expect(toMessageProcessorOptions(env.messages)).toEqual({
      maxAttempts: 2,
      retryTtlMs: 600_000,
      hardTimeoutMs: 2_000,
    });
    const deadLetter = vi.fn();
    const processor = messageProcessor<{ id: string }>({
      ...toMessageProcessorOptions(env.messages),
      handler: () => clock.sleep(10_000),
      deadLetter,
      clock,
    });
    for (let i = 0; i < 2; i++) {
      const result = processor.process({ id: 'm1' });
      await clock.advance(2_000);
      await result;
    }
    expect(deadLetter).toHaveBeenCalledWith({ id: 'm1' }, expect.objectContaining({ reason: 'max_retries_exceeded' }));
    expect(toMessageProcessorOptions(undefined)).toEqual({});
  });

  it('builds a token bucket of RATE_LIMIT_RPM a minute and the longest wait', () => {
    const { rateLimit } = optionsFromEnv({ APP_RATE_LIMIT_RPM: '60', APP_RATE_LIMIT_MAX_WAIT_MS: '500' });
    const limiter = rateLimiter({
      algorithm: tokenBucket({ capacity: 1, refillPerSecond: 1 }), // replaced by the variable's
      ...toRateLimiterOptions(rateLimit),
      clock: new FakeClock(),
    });
    const decisions = Array.from({ length: 61 }, () => limiter.consumeSync('k').allowed);
    expect(decisions.filter(Boolean)).toHaveLength(60);
    expect(toRateLimiterOptions(rateLimit).maxWaitMs).toBe(500);
    expect(toRateLimiterOptions(undefined)).toEqual({});
  });
});
