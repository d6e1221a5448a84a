import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { bulkhead } from '../bulkhead/bulkhead.js';
import { FakeClock } from '../clock/fake-clock.js';
import { ConfigurationError, TimeoutError } from '../errors/errors.js';
import { Emitter } from '../events/emitter.js';
import type { ExecuteContext, PolicyEvent, PolicyFn } from '../policy/policy.js';
import { backoff } from '../retry/backoff.js';
import { retry } from '../retry/retry.js';
import { timeout } from '../timeout/timeout.js';
import { PIPELINE_DEFAULTS } from './options.js';
import { pipeline } from './pipeline.js';

/** A layer that records when it is entered and left. */
function tracer(name: string, log: string[]) {
  const events = new Emitter<PolicyEvent>();
  return {
    name,
    onEvent: events.subscribe,
    async run<T>(fn: PolicyFn<T>, context: ExecuteContext): Promise<T> {
      log.push(`${name}>`);
      events.emit({ type: 'enter', policy: name });
      try {
        return await fn(context);
      } finally {
        log.push(`<${name}`);
      }
    },
  };
}

describe('pipeline', () => {
  it('runs the layers outermost first', async () => {
    const log: string[] = [];
    const policy = pipeline(tracer('a', log), tracer('b', log), tracer('c', log));
    await expect(
      policy.execute(() => {
        log.push('fn');
        return 1;
      }),
    ).resolves.toBe(1);
    expect(log).toEqual(['a>', 'b>', 'c>', 'fn', '<c', '<b', '<a']);
    expect(policy.name).toBe(PIPELINE_DEFAULTS.name);
  });

  it('an empty pipeline just calls the function', async () => {
    await expect(pipeline().execute(() => 'x')).resolves.toBe('x');
  });

  it("passes the context down: each layer's own signal, following the caller's", async () => {
    const clock = new FakeClock();
    const parent = new AbortController();
    let inner: AbortSignal | undefined;
    const policy = pipeline(timeout(1_000, { clock }), timeout(500, { clock }));
    const call = policy.execute(({ signal }) => {
      inner = signal;
      return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
    }, parent.signal);
    expect(inner).not.toBe(parent.signal);
    expect(inner?.aborted).toBe(false);
    parent.abort(new Error('stop'));
    await expect(call).rejects.toThrow('stop');
    expect(inner?.aborted).toBe(true);
  });

  it('a retry outside an attempt timeout gives every attempt a fresh time limit and its attempt number', async () => {
    const clock = new FakeClock();
    const attempts: number[] = [];
    const policy = pipeline(
      retry({ maxAttempts: 3, backoff: backoff.constant(10), handle: () => true, clock }),
      timeout(100, { clock, strategy: 'aggressive' }),
    );
    const call = policy.execute(({ attempt }) => {
      attempts.push(attempt);
      return attempt < 3 ? new Promise(() => {}) : 'third time';
    });
    await clock.advance(100 + 10 + 100 + 10);
    await expect(call).resolves.toBe('third time');
    expect(attempts).toEqual([1, 2, 3]);
  });

  it('an outer total timeout bounds every retry', async () => {
    const clock = new FakeClock();
    const policy = pipeline(
      timeout(250, { clock, strategy: 'aggressive' }),
      retry({ maxAttempts: 10, backoff: backoff.constant(100), handle: () => true, clock }),
    );
    let calls = 0;
    const call = policy
      .execute(() => {
        calls++;
        throw new Error('down');
      })
      .catch((e: unknown) => e);
    await clock.advance(1_000);
    expect(await call).toBeInstanceOf(TimeoutError);
    expect(calls).toBe(3);
  });

  it("delivers every layer's events to one listener, stamped with the layer's name, until disposed", async () => {
    const clock = new FakeClock();
    const log: string[] = [];
    const policy = pipeline(
      tracer('outer', log),
      retry({ name: 'r', maxAttempts: 2, backoff: backoff.constant(0), handle: () => true, clock }),
      timeout(50, { clock, name: 't', strategy: 'aggressive' }),
    );
    const events: string[] = [];
    const dispose = policy.onEvent((e) => events.push(`${e.policy}:${e.type}`));
    const call = policy.execute(() => new Promise(() => {})).catch(() => {});
    await clock.advance(200);
    await call;
    expect(events).toEqual(['outer:enter', 't:timeout', 'r:failure', 'r:retry', 't:timeout', 'r:failure', 'r:give_up']);
    dispose();
    await policy.execute(() => 1);
    expect(events).toHaveLength(7);
  });

  it('nested timeouts leave no listener on a long-lived caller signal', async () => {
    const clock = new FakeClock();
    const policy = pipeline(
      timeout(1_000, { clock }),
      retry({ maxAttempts: 2, backoff: backoff.constant(0), handle: () => true, clock }),
      timeout(100, { clock }),
    );
    const parent = new AbortController();
    const attempts: number[] = [];
    for (let i = 0; i < 2_000; i++) {
      const call = policy.execute(({ signal, attempt }) => {
        if (signal.aborted) throw new Error('unexpected abort');
        if (attempt === 1 && i % 2 === 0) throw new Error('retry me');
        return attempt;
      }, parent.signal);
      await clock.advance(0); // the retry's zero-length backoff
      attempts.push(await call);
    }
    expect(attempts.filter((a) => a === 2)).toHaveLength(1_000);
    expect(getEventListeners(parent.signal, 'abort')).toHaveLength(0);
  }, 60_000);

  it('wrap() keeps the arguments', async () => {
    const policy = pipeline(timeout(100, { clock: new FakeClock() }));
    const add = policy.wrap((a: number, b: number) => a + b);
    await expect(add(2, 3)).resolves.toBe(5);
  });

  it('rejects arguments that are not policies, naming each', () => {
    try {
      pipeline(timeout(1), {} as never, 3 as never);
      throw new Error('no error');
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigurationError);
      expect((e as ConfigurationError).issues.map((i) => i.option)).toEqual(['policies[1]', 'policies[2]']);
    }
  });

  it('refuses a policy given twice, here or in a nested pipeline: a bulkhead of one would wait on itself for ever', () => {
    const limit = bulkhead({ limit: 1, queue: 10 });
    const slow = timeout(100);
    expect(() => pipeline(limit, limit)).toThrow(
      'Invalid pipeline options: policies[1]: received a BulkheadPolicy, expected a policy not given already (the same instance twice counts every call twice; a bulkhead would wait on itself)',
    );
    expect(() => pipeline(slow, pipeline(retry(), slow))).toThrow(/policies\[1\]: .*not given already/);
    expect(() => pipeline(pipeline(slow), pipeline(timeout(100)))).not.toThrow();
  });
});
