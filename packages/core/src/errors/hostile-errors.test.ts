// An error is whatever the called function threw: a getter that throws, or a revoked Proxy,
// must not replace it. Reading one may fail; the toolkit then files it as unknown and passes
// the caller's error on unchanged.
import { describe, expect, it } from 'vitest';
import { circuitBreaker } from '../breaker/breaker.js';
import { consecutive } from '../breaker/strategy.js';
import { FakeClock } from '../clock/fake-clock.js';
import { retry } from '../retry/retry.js';
import { classify, isTransient } from './classify.js';
import { handle } from './handle.js';
import { retryAfterMs } from './retry-after.js';

/** An Error whose `field` throws when read. */
function throwingField(field: string): Error {
  const error = new Error('the call failed');
  Object.defineProperty(error, field, {
    get() {
      throw new Error(`reading ${field}`);
    },
  });
  return error;
}

function revokedProxy(): object {
  const { proxy, revoke } = Proxy.revocable(new Error('the call failed'), {});
  revoke();
  return proxy;
}

const hostile: Array<[string, () => unknown]> = [
  ...['code', 'name', 'status', 'cause', 'message', 'retryable', 'response', 'headers'].map(
    (field): [string, () => unknown] => [`a throwing ${field} getter`, () => throwingField(field)],
  ),
  ['a revoked Proxy', revokedProxy],
];

describe.each(hostile)('an error with %s', (_, make) => {
  it('is unknown to classify and not transient, without throwing', () => {
    expect(classify(make())).toBe('unknown');
    expect(isTransient(make())).toBe(false);
  });

  it('reaches the caller unchanged through retry, which gives up at once', async () => {
    const error = make();
    const policy = retry({ maxAttempts: 3, clock: new FakeClock() });
    const reasons: string[] = [];
    policy.onEvent((event) => {
      if (event.type === 'give_up') reasons.push(event.reason);
    });
    let calls = 0;
    const outcome = policy.execute(() => {
      calls++;
      throw error;
    });
    await expect(outcome).rejects.toBe(error);
    expect(calls).toBe(1);
    expect(reasons).toEqual(['not_handled']);
  });

  it('reaches the caller unchanged through a circuit breaker, which counts it as a failure', async () => {
    const error = make();
    const breaker = circuitBreaker({ strategy: consecutive(2), clock: new FakeClock(), registry: false });
    await expect(breaker.execute(() => Promise.reject(error))).rejects.toBe(error);
    await expect(breaker.execute(() => Promise.reject(error))).rejects.toBe(error);
    expect(breaker.state).toBe('open');
  });
});

describe('a Retry-After that cannot be read', () => {
  it('is no wait: retry({ handle: handle.all() }) retries on its own schedule and gives up with the error as cause', async () => {
    const error = throwingField('headers');
    expect(retryAfterMs(error, 0)).toBeUndefined();
    const clock = new FakeClock();
    const policy = retry({ maxAttempts: 2, handle: handle.all(), clock });
    let calls = 0;
    const outcome = policy.execute(() => {
      calls++;
      throw error;
    });
    const settled = expect(outcome).rejects.toMatchObject({ code: 'retry_exhausted', cause: error });
    await clock.runAll();
    await settled;
    expect(calls).toBe(2);
  });
});

describe('a handle that throws', () => {
  it('retry: does not retry, and the caller gets the call’s own error', async () => {
    const error = new Error('the call failed');
    const policy = retry({
      maxAttempts: 3,
      clock: new FakeClock(),
      handle: () => {
        throw new Error('handle broke');
      },
    });
    let calls = 0;
    await expect(
      policy.execute(() => {
        calls++;
        throw error;
      }),
    ).rejects.toBe(error);
    expect(calls).toBe(1);
  });

  it('circuit breaker: the caller gets the call’s own error, counted as a failure', async () => {
    const error = new Error('the call failed');
    const breaker = circuitBreaker({
      strategy: consecutive(1),
      clock: new FakeClock(),
      registry: false,
      handle: () => {
        throw new Error('handle broke');
      },
    });
    await expect(breaker.execute(() => Promise.reject(error))).rejects.toBe(error);
    expect(breaker.state).toBe('open');
  });
});
