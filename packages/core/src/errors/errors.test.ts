import { describe, expect, it } from 'vitest';
import {
  BrokenCircuitError,
  type ConfigurationError,
  IsolatedCircuitError,
  isBrokenCircuitError,
  isConfigurationError,
  isOwnRejection,
  isResilienceError,
  RateLimitExceededError,
  RetryExhaustedError,
  TimeoutError,
} from './errors.js';
import { OptionsValidator } from './validate.js';

describe('ResilienceError', () => {
  it('has a stable code, a name and a cause', () => {
    const cause = new Error('last');
    const error = new RetryExhaustedError(4, cause);
    expect(error.code).toBe('retry_exhausted');
    expect(error.name).toBe('RetryExhaustedError');
    expect(error.cause).toBe(cause);
    expect(error.attempts).toBe(4);
    expect(error).toBeInstanceOf(Error);
  });

  it('says in RetryExhaustedError’s message what failed last, whatever was thrown', () => {
    expect(new RetryExhaustedError(3, Object.assign(new Error('HTTP 503'), { status: 503 })).message).toBe(
      'Gave up after 3 attempt(s), no attempts left: HTTP 503',
    );
    expect(new RetryExhaustedError(2, new Error('HTTP 429'), 'deadline').message).toBe(
      'Gave up after 2 attempt(s), the next wait would pass the deadline: HTTP 429',
    );
    expect(new RetryExhaustedError(1, 'plain text').message).toMatch(/: plain text$/);
    expect(new RetryExhaustedError(1, { message: 'a plain object' }).message).toMatch(/: a plain object$/);
    expect(new RetryExhaustedError(1, Object.create(null)).message).toMatch(/: \[object without a message\]$/);
  });

  it('lets BrokenCircuitError carry a cause', () => {
    const cause = new Error('HTTP 503');
    expect(new BrokenCircuitError('open', 10, 'circuit_open', { cause }).cause).toBe(cause);
    expect('cause' in new BrokenCircuitError('open', 10)).toBe(false);
  });

  it('is recognised by code even when the class comes from another copy of the package', () => {
    const foreign = new TimeoutError(10);
    Object.setPrototypeOf(foreign, Error.prototype);
    expect(isResilienceError(foreign, 'timeout')).toBe(true);
    expect(isResilienceError(Object.assign(new Error('x'), { code: 'timeout' }))).toBe(false);
  });

  it('treats isolated circuits as broken circuits and knows the toolkit’s own rejections', () => {
    expect(isBrokenCircuitError(new IsolatedCircuitError())).toBe(true);
    expect(new IsolatedCircuitError().code).toBe('circuit_isolated');
    expect(isOwnRejection(new BrokenCircuitError('open', 10))).toBe(true);
    expect(isOwnRejection(new RateLimitExceededError(10))).toBe(true);
    expect(isOwnRejection(new TimeoutError(10))).toBe(false);
  });
});

describe('OptionsValidator', () => {
  it('reports every bad option at once, with what was received and what is allowed', () => {
    const v = new OptionsValidator('widget');
    v.integer('count', 1.5, { min: 1 });
    v.number('ratio', -1, { min: 0, max: 1 });
    v.oneOf('mode', 'fast', ['slow', 'safe']);
    v.function('onDone', 42);
    v.integer('ok', 3, { min: 1 });
    let error: unknown;
    try {
      v.done();
    } catch (e) {
      error = e;
    }
    expect(isConfigurationError(error)).toBe(true);
    const config = error as ConfigurationError;
    expect(config.issues.map((i) => i.option)).toEqual(['count', 'ratio', 'mode', 'onDone']);
    expect(config.message).toContain('Invalid widget options');
    expect(config.message).toContain('count: received 1.5, expected an integer >= 1');
    expect(config.message).toContain('mode: received "fast", expected one of "slow", "safe"');
  });

  it('accepts an injected clock only when it has every Clock method', () => {
    const clock = { now: () => 0, sleep: async () => {}, setTimeout: () => 1, clearTimeout: () => {} };
    expect(() => new OptionsValidator('widget').clock('clock', clock).done()).not.toThrow();
    expect(() => new OptionsValidator('widget').clock('clock', { now: () => 0 }).done()).toThrow(/clock: .*a Clock/);
    expect(() => new OptionsValidator('widget').clock('clock', 'system').done()).toThrow(/clock/);
  });

  it('passes undefined optional values and fails a missing required one', () => {
    const v = new OptionsValidator('widget').number('maybe', undefined).integer('n', undefined);
    expect(() => v.done()).not.toThrow();
    expect(() => new OptionsValidator('widget').required('limit', undefined).done()).toThrow(/limit/);
  });
});
