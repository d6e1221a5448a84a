// A custom Backoff is a function the toolkit calls: what it returns is checked where it is
// used. NaN or a negative delay would retry at once, Infinity never, a string be added as text.
import { describe, expect, it } from 'vitest';
import { circuitBreaker } from '../breaker/breaker.js';
import { consecutive } from '../breaker/strategy.js';
import { FakeClock } from '../clock/fake-clock.js';
import { ConfigurationError } from '../errors/errors.js';
import { handle } from '../errors/handle.js';
import { messageProcessor } from '../messages/processor.js';
import type { Backoff } from './backoff.js';
import { retry } from './retry.js';

const bad: unknown[] = [Number.NaN, -5, Number.POSITIVE_INFINITY, '500', 10n, undefined];
const schedule = (value: unknown): Backoff => ({ delay: () => value as number, maxMs: 1_000 });

describe.each(bad)('a Backoff whose delay is %s', (value) => {
  it('retry: rejects with a ConfigurationError naming backoff.delay, after one call, instead of retrying at once or never', async () => {
    let calls = 0;
    const outcome = retry({ maxAttempts: 3, handle: handle.all(), backoff: schedule(value), clock: new FakeClock() })
      .execute(() => {
        calls++;
        throw new Error('flaky');
      })
      .catch((e: unknown) => e);
    const error = await outcome;
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message).toMatch(/backoff.*delay/);
    expect(calls).toBe(1);
  });

  it('circuit breaker halfOpenAfter: the opening call says so, and no NaN reaches the breaker’s state', async () => {
    const breaker = circuitBreaker({
      strategy: consecutive(1),
      halfOpenAfter: schedule(value),
      clock: new FakeClock(),
      registry: false,
    });
    await expect(breaker.execute(() => Promise.reject(new Error('down')))).rejects.toBeInstanceOf(ConfigurationError);
  });

  it('messageProcessor retryBackoff: process rejects with a ConfigurationError, no retryDelayMs of NaN', async () => {
    const processor = messageProcessor<{ id: string }>({
      handler: async () => {
        throw Object.assign(new Error('reset'), { code: 'ECONNRESET' });
      },
      deadLetter: async () => {},
      retryBackoff: schedule(value),
      clock: new FakeClock(),
      idOf: (m) => m.id,
    });
    await expect(processor.process({ id: 'm1' })).rejects.toBeInstanceOf(ConfigurationError);
  });
});
