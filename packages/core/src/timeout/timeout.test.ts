import { getEventListeners } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
import { ConfigurationError, TimeoutError } from '../errors/errors.js';
import { followerCount } from '../policy/abort-fanout.js';
import type { ExecuteContext } from '../policy/policy.js';
import { countControllers, restoreAbortController } from '../testing/abort-controllers.js';
import { TIMEOUT_DEFAULTS } from './options.js';
import { type TimeoutEvent, timeout } from './timeout.js';

/** A function that settles only when its signal aborts (rejecting with the reason) or when `finish` is called. */
function pending<T>() {
  let finish!: (value: T) => void;
  let seen: AbortSignal | undefined;
  const fn = ({ signal }: ExecuteContext) =>
    new Promise<T>((resolve, reject) => {
      seen = signal;
      finish = resolve;
      signal.addEventListener('abort', () => reject(signal.reason));
    });
  return { fn, finish: (v: T) => finish(v), signal: () => seen };
}

const settled = async (p: Promise<unknown>) => {
  let state = 'pending';
  p.then(
    () => (state = 'resolved'),
    () => (state = 'rejected'),
  );
  await new Promise((r) => setImmediate(r));
  return state;
};

afterEach(restoreAbortController);

describe('timeout', () => {
  it('settles at once a call whose result cannot be read (a revoked Proxy, a `then` that throws): no timeout later', async () => {
    const revoked = () => {
      const { proxy, revoke } = Proxy.revocable({}, {});
      revoke();
      return proxy;
    };
    // A thenable whose `then` throws (built with defineProperty: a literal `then` is flagged by lint).
    const thenThrows = () =>
      Object.defineProperty({}, 'then', {
        value: () => {
          throw new Error('then');
        },
      });
    for (const strategy of ['cooperative', 'aggressive'] as const) {
      const clock = new FakeClock();
      const policy = timeout(1_000, { clock, strategy });
      const events: unknown[] = [];
      policy.onEvent((e) => events.push(e));
      await expect(policy.execute(revoked)).rejects.toThrow(TypeError);
      await expect(policy.execute(thenThrows as never)).rejects.toThrow('then');
      await clock.advance(1_000);
      expect(events, strategy).toEqual([]);
    }
  });

  it('dispose() clears its shared timer once no call waits; a later call arms it again and still times out', async () => {
    const clock = new FakeClock();
    const policy = timeout(1_000, { clock });
    await policy.execute(() => 'fast');
    expect(clock.pendingTimers).toBe(1); // kept armed (unref'd) for the next call
    policy.dispose();
    expect(clock.pendingTimers).toBe(0);
    const slow = policy.execute(() => new Promise(() => {}));
    const settled = expect(slow).rejects.toBeInstanceOf(TimeoutError);
    await clock.advance(1_000);
    await settled;
  });

  it('defaults to an aggressive strategy named "timeout"', () => {
    expect(TIMEOUT_DEFAULTS).toEqual({ strategy: 'aggressive', name: 'timeout' });
    expect(timeout(10).name).toBe('timeout');
  });

  it('by default returns at the limit when the function ignores its signal, and still aborts the signal', async () => {
    const clock = new FakeClock();
    const policy = timeout(100, { clock });
    let seen: AbortSignal | undefined;
    const call = policy
      .execute(({ signal }) => {
        seen = signal;
        return new Promise<string>(() => {}); // never settles, never looks at the signal again
      })
      .catch((e: unknown) => e);
    await clock.advance(100);
    expect(await call).toBeInstanceOf(TimeoutError);
    expect(seen?.aborted).toBe(true);
    expect(seen?.reason).toBeInstanceOf(TimeoutError);
  });

  it('wrap(fn) returns at the limit by default, though the wrapped function never sees a signal', async () => {
    const clock = new FakeClock();
    const slowQuery = (sql: string) => new Promise<string>((resolve) => clock.setTimeout(() => resolve(sql), 500));
    const query = timeout(100, { clock }).wrap(slowQuery);
    const call = query('select 1').catch((e: unknown) => e);
    await clock.advance(100);
    expect(await call).toBeInstanceOf(TimeoutError);
  });

  it('refuses wrap(fn) for a cooperative timeout, which could never end a function that gets no signal', () => {
    const policy = timeout(100, { strategy: 'cooperative' });
    expect(() => policy.wrap(async () => 1)).toThrow(ConfigurationError);
    expect(() => policy.wrap(async () => 1)).toThrow(/strategy/);
    expect(() => timeout({ softMs: 100, hardMs: 200 }).wrap(async () => 1)).not.toThrow();
  });

  it('returns the value of a call that finishes in time', async () => {
    const clock = new FakeClock();
    const policy = timeout(100, { clock });
    await expect(policy.execute(async () => 'ok')).resolves.toBe('ok');
    await expect(policy.execute(() => 7)).resolves.toBe(7);
    await clock.advance(1_000);
    expect(clock.pendingTimers).toBe(0);
  });

  it('passes a synchronous throw through as a rejection', async () => {
    const policy = timeout(100, { clock: new FakeClock() });
    const boom = new Error('boom');
    await expect(
      policy.execute(() => {
        throw boom;
      }),
    ).rejects.toBe(boom);
  });

  it('cooperative: aborts the signal at the limit and rejects with TimeoutError once the function settles', async () => {
    const clock = new FakeClock();
    const policy = timeout(100, { strategy: 'cooperative', clock });
    const task = pending<string>();
    const call = policy.execute(task.fn).catch((e: unknown) => e);
    await clock.advance(99);
    expect(task.signal()?.aborted).toBe(false);
    await clock.advance(1);
    expect(task.signal()?.aborted).toBe(true);
    const error = await call;
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).timeoutMs).toBe(100);
  });

  it('cooperative: waits for a function that ignores the abort and returns its value', async () => {
    const clock = new FakeClock();
    const policy = timeout(100, { strategy: 'cooperative', clock });
    let finish!: (v: string) => void;
    const call = policy.execute(() => new Promise<string>((r) => (finish = r)));
    await clock.advance(500);
    expect(await settled(call)).toBe('pending');
    finish('late');
    await expect(call).resolves.toBe('late');
  });

  it('cooperative: wraps a different error thrown after the abort in TimeoutError with the cause', async () => {
    const clock = new FakeClock();
    const policy = timeout(100, { strategy: 'cooperative', clock });
    const cause = new Error('socket closed');
    const call = policy
      .execute(({ signal }) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(cause))))
      .catch((e: unknown) => e);
    await clock.advance(100);
    const error = (await call) as TimeoutError;
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error.cause).toBe(cause);
  });

  it('aggressive: rejects at the limit even when the function ignores the abort', async () => {
    const clock = new FakeClock();
    const policy = timeout(100, { strategy: 'aggressive', clock });
    let seen: AbortSignal | undefined;
    let finish!: (v: string) => void;
    const call = policy.execute(({ signal }) => {
      seen = signal;
      return new Promise<string>((r) => (finish = r));
    });
    await clock.advance(99);
    expect(await settled(call)).toBe('pending');
    await clock.advance(1);
    await expect(call).rejects.toBeInstanceOf(TimeoutError);
    expect(seen?.aborted).toBe(true);
    finish('too late'); // ignored, no unhandled rejection
  });

  it('aggressive: a call that finishes in time is not rejected later', async () => {
    const clock = new FakeClock();
    const policy = timeout(100, { strategy: 'aggressive', clock });
    await expect(policy.execute(async () => 1)).resolves.toBe(1);
    const failure = new Error('x');
    await expect(policy.execute(() => Promise.reject(failure))).rejects.toBe(failure);
    await clock.advance(200);
  });

  it('soft/hard: the signal aborts at softMs and the call rejects at hardMs', async () => {
    const clock = new FakeClock();
    const policy = timeout({ softMs: 100, hardMs: 300, clock });
    let seen: AbortSignal | undefined;
    const call = policy.execute(({ signal }) => {
      seen = signal;
      return new Promise(() => {});
    });
    await clock.advance(100);
    expect(seen?.aborted).toBe(true);
    expect(await settled(call)).toBe('pending');
    await clock.advance(199);
    expect(await settled(call)).toBe('pending');
    await clock.advance(1);
    const error = (await call.catch((e: unknown) => e)) as TimeoutError;
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error.timeoutMs).toBe(300);
  });

  it('soft/hard: a function that gives up after the soft abort rejects with TimeoutError before hardMs', async () => {
    const clock = new FakeClock();
    const policy = timeout({ softMs: 100, hardMs: 300, clock });
    const task = pending<string>();
    const call = policy.execute(task.fn).catch((e: unknown) => e);
    await clock.advance(100);
    const error = (await call) as TimeoutError;
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error.timeoutMs).toBe(100);
    expect(clock.now()).toBe(100);
  });

  it('soft/hard: a function that gives up with its own error after the soft abort rejects with TimeoutError(softMs), the error as cause', async () => {
    const clock = new FakeClock();
    const policy = timeout({ softMs: 100, hardMs: 300, clock });
    const gone = new Error('gone');
    const call = policy
      .execute(
        ({ signal }) =>
          new Promise((_, reject) => signal.addEventListener('abort', () => clock.setTimeout(() => reject(gone), 50))),
      )
      .catch((e: unknown) => e);
    await clock.advance(150);
    const error = (await call) as TimeoutError;
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error.timeoutMs).toBe(100);
    expect(error.message).toMatch(/100 ms/);
    expect(error.cause).toBe(gone);
  });

  it('soft/hard: a function that finishes after the soft abort but before hardMs returns its value', async () => {
    const clock = new FakeClock();
    const policy = timeout({ softMs: 100, hardMs: 300, clock });
    let finish!: (v: string) => void;
    const call = policy.execute(() => new Promise<string>((r) => (finish = r)));
    await clock.advance(150);
    finish('done');
    await expect(call).resolves.toBe('done');
    await clock.advance(500);
  });

  it('creates no AbortController for a call that never reads its signal', async () => {
    const clock = new FakeClock();
    const policy = timeout(100, { clock });
    const parent = new AbortController();
    const counter = countControllers();
    for (let i = 0; i < 10; i++) await policy.execute(async () => i, parent.signal);
    expect(counter.count).toBe(0);
    await policy.execute(async ({ signal }) => signal.aborted);
    expect(counter.count).toBe(1);
  });

  it('a signal first read after the timeout fired is already aborted with the TimeoutError', async () => {
    const clock = new FakeClock();
    const policy = timeout(100, { strategy: 'cooperative', clock });
    let context!: ExecuteContext;
    let finish!: () => void;
    const call = policy.execute((c) => {
      context = c;
      return new Promise<void>((r) => (finish = r));
    });
    const counter = countControllers();
    await clock.advance(100);
    expect(counter.count).toBe(0);
    expect(context.signal.aborted).toBe(true);
    expect(context.signal.reason).toBeInstanceOf(TimeoutError);
    finish();
    await call;
  });

  it("gives each call its own signal: one call's timeout never aborts another's", async () => {
    const clock = new FakeClock();
    let next = 100;
    const policy = timeout(() => next, { clock });
    const short = pending<string>();
    const long = pending<string>();
    const first = policy.execute(short.fn).catch((e: unknown) => e);
    next = 1_000;
    const second = policy.execute(long.fn);
    await clock.advance(100);
    expect(short.signal()?.aborted).toBe(true);
    expect(long.signal()?.aborted).toBe(false);
    expect(await first).toBeInstanceOf(TimeoutError);
    long.finish('fine');
    await expect(second).resolves.toBe('fine');
  });

  it('fires deadlines in order when a dynamic limit makes them arrive out of order', async () => {
    const clock = new FakeClock();
    const limits = [300, 100, 200];
    const policy = timeout(() => limits.shift() ?? 1, { strategy: 'aggressive', clock });
    const order: number[] = [];
    const calls = [0, 1, 2].map(() =>
      policy.execute(() => new Promise(() => {})).catch((e: TimeoutError) => order.push(e.timeoutMs)),
    );
    await clock.advance(300);
    await Promise.all(calls);
    expect(order).toEqual([100, 200, 300]);
  });

  it('a dynamic limit that is not a positive finite number runs the call without a limit', async () => {
    const clock = new FakeClock();
    const policy = timeout(() => Number.NaN, { strategy: 'aggressive', clock });
    let finish!: (v: number) => void;
    const call = policy.execute(() => new Promise<number>((r) => (finish = r)));
    await clock.advance(10_000);
    expect(clock.pendingTimers).toBe(0);
    finish(3);
    await expect(call).resolves.toBe(3);
  });

  it("follows the caller's signal: a caller abort reaches the function", async () => {
    const clock = new FakeClock();
    const policy = timeout(1_000, { clock });
    const parent = new AbortController();
    const task = pending<string>();
    const call = policy.execute(task.fn, parent.signal);
    parent.abort(new Error('caller gave up'));
    await expect(call).rejects.toThrow('caller gave up');
    expect(task.signal()?.aborted).toBe(true);
  });

  it("rejects at once with the caller's reason when the caller aborts a function that ignores its signal (aggressive, soft/hard)", async () => {
    for (const [policyName, reads] of [
      ['aggressive', false],
      ['aggressive', true],
      ['soft/hard', true],
    ] as const) {
      const clock = new FakeClock();
      const policy =
        policyName === 'aggressive' ? timeout(1_000, { clock }) : timeout({ softMs: 500, hardMs: 1_000, clock });
      const parent = new AbortController();
      let finish!: () => void;
      const call = policy.execute(({ signal }) => {
        if (reads) void signal.aborted;
        return new Promise<void>((resolve) => (finish = resolve)); // deaf to its signal
      }, parent.signal);
      const caught = call.catch((e: unknown) => e);
      await clock.advance(10);
      const reason = new Error('caller gave up');
      parent.abort(reason);
      await clock.advance(0);
      // Not kept until the time limit, then told of a TimeoutError the caller did not ask about.
      expect(await settled(caught)).toBe('resolved');
      expect(await caught).toBe(reason);
      finish();
      expect({ policyName, reads, followers: followerCount(parent.signal), timers: clock.pendingTimers }).toEqual({
        policyName,
        reads,
        followers: 0,
        timers: clock.pendingTimers,
      });
      await clock.advance(2_000); // the limit passing later changes nothing
      await expect(call).rejects.toBe(reason);
    }
  });

  it("rejects at once with the caller's reason when the caller aborts between the soft and the hard limit", async () => {
    const clock = new FakeClock();
    const policy = timeout({ softMs: 500, hardMs: 1_000, clock });
    const parent = new AbortController();
    let seen: AbortSignal | undefined;
    const call = policy
      .execute(({ signal }) => {
        seen = signal;
        return new Promise<void>(() => {}); // deaf to its signal
      }, parent.signal)
      .catch((e: unknown) => e);
    await clock.advance(600);
    expect(seen?.aborted).toBe(true); // the soft limit passed: the function was told
    const reason = new Error('caller gave up');
    parent.abort(reason);
    await clock.advance(0);
    // Not kept until the hard limit: nobody waits for a substitute any more.
    expect(await settled(call)).toBe('resolved');
    expect(await call).toBe(reason);
    expect(followerCount(parent.signal)).toBe(0);
    await clock.advance(1_000);
    expect(clock.pendingTimers).toBe(0);
  });

  it('leaves nothing on a long-lived caller signal once deaf calls finish in time (aggressive)', async () => {
    const clock = new FakeClock();
    const policy = timeout(1_000, { clock });
    const shutdown = new AbortController();
    for (let i = 0; i < 100; i++) await policy.execute(() => Promise.resolve(i), shutdown.signal);
    expect(followerCount(shutdown.signal)).toBe(0);
    expect(getEventListeners(shutdown.signal, 'abort')).toEqual([]);
  });

  it('hands the function an aborted signal when the context it runs in has already aborted', async () => {
    const policy = timeout(1_000, { clock: new FakeClock() });
    const parent = new AbortController();
    parent.abort('stop');
    // `execute` makes no call at all then; an inner layer of a pipeline is reached through `run`.
    await expect(policy.run(({ signal }) => signal.reason, { signal: parent.signal, attempt: 1 })).resolves.toBe(
      'stop',
    );
  });

  it('leaves no listener on a long-lived parent signal after 100 000 calls', async () => {
    const clock = new FakeClock();
    const policy = timeout(50, { clock });
    const parent = new AbortController();
    let maxListeners = 0;
    for (let i = 0; i < 100_000; i++) {
      await policy.execute(({ signal }) => {
        maxListeners = Math.max(maxListeners, getEventListeners(parent.signal, 'abort').length);
        return signal.aborted;
      }, parent.signal);
    }
    // Calls that time out stop following the signal too; while they run, they share one listener.
    const hanging = Array.from({ length: 100 }, () =>
      policy
        .execute(({ signal }) => new Promise((_, reject) => signal.addEventListener('abort', reject)), parent.signal)
        .catch(() => {}),
    );
    expect(getEventListeners(parent.signal, 'abort')).toHaveLength(1);
    expect(followerCount(parent.signal)).toBe(100);
    await clock.advance(50);
    await Promise.allSettled(hanging);
    expect(maxListeners).toBe(1);
    expect(getEventListeners(parent.signal, 'abort')).toHaveLength(0);
  }, 60_000);

  it("reports 'timeout' events with the action taken", async () => {
    const clock = new FakeClock();
    const events: TimeoutEvent[] = [];
    const coop = timeout(100, { clock, strategy: 'cooperative', name: 'db' });
    const aggr = timeout(100, { clock, name: 'api' });
    coop.onEvent((e) => events.push(e));
    aggr.onEvent((e) => events.push(e));
    const a = coop.execute(pending<string>().fn).catch(() => {});
    const b = aggr.execute(() => new Promise(() => {})).catch(() => {});
    await clock.advance(100);
    await Promise.all([a, b]);
    expect(events).toEqual([
      { type: 'timeout', policy: 'db', timeoutMs: 100, action: 'abort' },
      { type: 'timeout', policy: 'api', timeoutMs: 100, action: 'reject' },
    ]);
  });

  it('uses one clock timer for many concurrent deadlines', async () => {
    const clock = new FakeClock();
    const policy = timeout(100, { clock, strategy: 'aggressive' });
    const calls = Array.from({ length: 50 }, () => policy.execute(() => new Promise(() => {})).catch((e) => e));
    expect(clock.pendingTimers).toBe(1);
    await clock.advance(100);
    for (const e of await Promise.all(calls)) expect(e).toBeInstanceOf(TimeoutError);
    expect(clock.pendingTimers).toBe(0);
  });

  it('rejects invalid options naming each one', () => {
    const bad = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigurationError);
        return (e as ConfigurationError).issues.map((i) => i.option);
      }
      throw new Error('no error');
    };
    expect(bad(() => timeout(0))).toEqual(['ms']);
    expect(bad(() => timeout(10, { strategy: 'eager' as 'aggressive', name: '' }))).toEqual(['strategy', 'name']);
    expect(bad(() => timeout({ softMs: 200, hardMs: 100 }))).toEqual(['hardMs']);
    expect(bad(() => timeout({ softMs: -1 } as never))).toEqual(['softMs', 'hardMs']);
    expect(bad(() => timeout({ ms: 0, strategy: 'eager' as 'aggressive' }))).toEqual(['ms', 'strategy']);
    expect(bad(() => timeout({ ms: 10, retries: 1 } as never))).toEqual(['retries']);
  });

  it('takes { ms, ...options } as (ms, options), as the HTTP clients take a timeout', async () => {
    const clock = new FakeClock();
    const policy = timeout({ ms: 100, strategy: 'cooperative', name: 'db', clock });
    expect(policy.name).toBe('db');
    let aborted = false;
    const call = policy.execute(async ({ signal }) => {
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
      aborted = true;
      return 'finished';
    });
    await clock.advance(100);
    await expect(call).resolves.toBe('finished'); // cooperative: it waited for the function
    expect(aborted).toBe(true);
  });
});
