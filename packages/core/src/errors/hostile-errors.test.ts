// An error is whatever the called function threw: a getter that throws, or a revoked Proxy,
// must not replace it. Reading one may fail; the toolkit then files it as unknown and passes
// the caller's error on unchanged.
import { describe, expect, it } from 'vitest';
import { circuitBreaker } from '../breaker/breaker.js';
import { consecutive } from '../breaker/strategy.js';
import { resilientClient } from '../client/client.js';
import { FakeClock } from '../clock/fake-clock.js';
import { fallback } from '../fallback/fallback.js';
import { health } from '../health/health.js';
import { idempotency } from '../idempotency/idempotency.js';
import { logEvents } from '../logging/log-events.js';
import { messageProcessor } from '../messages/processor.js';
import { metrics } from '../metrics/metrics.js';
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

/** A thrown value with no string form: `String()` and template literals throw on it. */
const formless = () => Object.create(null) as object;

describe('a thrown value with no string form, or an Error whose name or message has none', () => {
  it('health: the check fails with a text, run() resolves and a scheduled registry keeps running', async () => {
    const clock = new FakeClock();
    const probes = health({ clock }).register('db', () => {
      throw formless();
    });
    const report = await probes.run();
    expect(report.status).toBe('unhealthy');
    expect(report.checks.db?.error).toBe('[object without a message]');
  });

  it('idempotency with recordErrors: the caller gets its own error, and the key is not left in flight', async () => {
    const idem = idempotency({ recordErrors: true, clock: new FakeClock() });
    const thrown = formless();
    await expect(idem.execute('k', () => Promise.reject(thrown))).rejects.toBe(thrown);
    await expect(idem.execute('k', () => Promise.resolve(1))).rejects.not.toMatchObject({
      code: 'idempotency_in_flight',
    });
  });

  it('messages: process answers (never rejects) and the sink gets a description', async () => {
    const error = new Error('x');
    Object.defineProperty(error, 'message', { value: formless() });
    const sunk: string[] = [];
    const processor = messageProcessor({
      maxAttempts: 1,
      handler: () => {
        throw error;
      },
      deadLetter: (_m, { description }) => void sunk.push(description),
      clock: new FakeClock(),
    });
    await expect(processor.process({ id: 'm1' })).resolves.toMatchObject({ outcome: 'dead_lettered' });
    expect(sunk[0]).toMatch(/^Message m1 failed 1 of 1 attempts/);
  });

  it('messages: a description names a long id by its first 200 characters only', async () => {
    const sunk: string[] = [];
    const processor = messageProcessor({
      maxAttempts: 1,
      handler: () => {
        throw new Error('boom');
      },
      deadLetter: (_m, { description }) => void sunk.push(description),
      clock: new FakeClock(),
    });
    await processor.process({ id: 'i'.repeat(1_024) }); // the longest id counted
    expect(sunk[0]!.length).toBeLessThan(400);
    expect(sunk[0]).toContain(`${'i'.repeat(200)}…`);
  });

  it('logEvents and a metrics collector record it without throwing', async () => {
    const stats = metrics({ clock: new FakeClock() });
    const error = throwingField('name');
    stats.recordCall({ latencyMs: 1, ok: false, error });
    expect(stats.snapshot().errorsByType).toEqual({ object: 1 });
    const lines: unknown[] = [];
    const log = (fields: unknown) => void lines.push(fields);
    const clock = new FakeClock();
    const policy = retry({ maxAttempts: 2, handle: handle.all(), clock });
    logEvents(policy, { info: log, warn: log, error: log });
    const thrown = formless();
    const outcome = expect(policy.execute(() => Promise.reject(thrown))).rejects.toMatchObject({ cause: thrown });
    await clock.runAll();
    await outcome;
    expect(lines).toContainEqual(expect.objectContaining({ errorMessage: '[object without a message]' }));
  });
});

describe('an async yes/no callback (its promise would read as yes, or as no, whatever it holds)', () => {
  const answer = (async () => false) as never;
  it.each([
    ['retry', () => retry({ handle: answer })],
    ['circuitBreaker', () => circuitBreaker({ handle: answer, registry: false })],
    ['fallback', () => fallback('cached', { handle: answer })],
    ['resilientClient', () => resilientClient({ idempotent: answer })],
  ])('%s refuses it at construction, naming the option', (_, build) => {
    expect(build).toThrow(/(handle|idempotent): received .*, expected a function, not async/);
  });
});

describe('a yes/no callback that answers anything but true (a promise from a plain function, a truthy value)', () => {
  // A promise fails a retry's, a fallback's, a hedge's or a throttle's call with a
  // ConfigurationError, and a breaker counts it a failure, as a throw (handle-promise.test.ts).
  const answers = [() => 'yes', () => 1] as unknown as ((error: unknown) => boolean)[];
  it.each(answers)('retry does not retry on it (answer %#)', async (answer) => {
    let calls = 0;
    const policy = retry({ maxAttempts: 3, handle: answer, backoff: { delay: () => 0 } as never });
    const failure = new Error('x');
    const call = () => {
      calls++;
      return Promise.reject(failure);
    };
    await expect(policy.execute(call)).rejects.toBe(failure);
    expect(calls).toBe(1);
  });
  it.each(answers)('a breaker does not count the error as a failure (answer %#)', async (answer) => {
    const breaker = circuitBreaker({ handle: answer, strategy: consecutive(1), registry: false });
    await expect(breaker.execute(() => Promise.reject(new Error('x')))).rejects.toThrow('x');
    expect(breaker.state).toBe('closed');
  });
  it.each(answers)('fallback does not replace the error (answer %#)', async (answer) => {
    const failure = new Error('x');
    await expect(fallback('cached', { handle: answer }).execute(() => Promise.reject(failure))).rejects.toBe(failure);
  });
  it('fallback whose handle throws passes the call’s own error on, as retry does', async () => {
    const failure = new Error('x');
    const throwing = () => {
      throw new Error('handle broke');
    };
    await expect(fallback('cached', { handle: throwing }).execute(() => Promise.reject(failure))).rejects.toBe(failure);
  });
});
