import { describe, expect, it, vi } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
import { ConfigurationError, TimeoutError } from '../errors/errors.js';
import { health } from '../health/health.js';
import { pipeline } from '../pipeline/pipeline.js';
import { awaitedReasons, isAwaited } from '../timeout/awaited.js';
import { timeout } from '../timeout/timeout.js';
import { type FallbackEvent, fallback } from './fallback.js';
import { FALLBACK_DEFAULTS } from './options.js';

const primaryDown = new Error('primary down');

describe('fallback', () => {
  it('passes a success through untouched', async () => {
    expect(FALLBACK_DEFAULTS.name).toBe('fallback');
    await expect(fallback('cached').execute(() => 'fresh')).resolves.toBe('fresh');
  });

  it('replaces a failure with a value', async () => {
    await expect(fallback('cached').execute(() => Promise.reject(primaryDown))).resolves.toBe('cached');
  });

  it('calls a function with the error (primary → replica)', async () => {
    const seen: unknown[] = [];
    const policy = fallback(async (error) => {
      seen.push(error);
      return 'from replica';
    });
    await expect(
      policy.execute(() => {
        throw primaryDown;
      }),
    ).resolves.toBe('from replica');
    expect(seen).toEqual([primaryDown]);
  });

  it('rejects with the fallback function’s error when it fails too', async () => {
    const replicaDown = new Error('replica down');
    const policy = fallback(() => Promise.reject(replicaDown));
    await expect(policy.execute(() => Promise.reject(primaryDown))).rejects.toBe(replicaDown);
  });

  it('lets errors the handle refuses pass through', async () => {
    const policy = fallback('x', { handle: (e) => e instanceof TimeoutError });
    await expect(policy.execute(() => Promise.reject(primaryDown))).rejects.toBe(primaryDown);
    await expect(policy.execute(() => Promise.reject(new TimeoutError(5)))).resolves.toBe('x');
  });

  it('does not substitute by default when the caller cancelled', async () => {
    const caller = new AbortController();
    const policy = fallback('x');
    const call = policy.execute(
      ({ signal }) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
      caller.signal,
    );
    caller.abort(new Error('cancelled'));
    await expect(call).rejects.toThrow('cancelled');
  });

  it('never runs the substitute for a caller that cancelled, whatever its handle says', async () => {
    const caller = new AbortController();
    let replicaReads = 0;
    const policy = fallback(
      () => {
        replicaReads++;
        return 'replica';
      },
      { handle: () => true },
    );
    const call = policy.execute(
      ({ signal }) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
      caller.signal,
    );
    caller.abort(new Error('cancelled'));
    await expect(call).rejects.toThrow('cancelled');
    expect(replicaReads).toBe(0);
  });

  it('substitutes inside a soft/hard timeout whose soft limit aborted the signal: nobody cancelled', async () => {
    for (const options of [{}, { handle: () => true }]) {
      const clock = new FakeClock();
      const policy = pipeline(timeout({ softMs: 100, hardMs: 1_000, clock }), fallback('stale', options));
      const call = policy.execute(
        ({ signal }) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
      );
      await clock.advance(100);
      await expect(call).resolves.toBe('stale');
    }
  });

  it('gives no substitute once a time limit outside answered the caller: aggressive, a hard limit, a health check', async () => {
    const untilAborted = ({ signal }: { signal: AbortSignal }) =>
      new Promise<string>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
    let replicaReads = 0;
    const replica = () => {
      replicaReads++;
      return 'replica';
    };
    const clock = new FakeClock();
    const aggressive = pipeline(timeout(100, { clock }), fallback(replica)).execute(untilAborted);
    const expectation = expect(aggressive).rejects.toBeInstanceOf(TimeoutError);
    await clock.advance(100);
    await expectation;
    // A soft limit's work that fails only after the hard limit answered.
    let fail!: (error: unknown) => void;
    const paired = pipeline(timeout({ softMs: 100, hardMs: 200, clock }), fallback(replica)).execute(
      () => new Promise<string>((_, reject) => (fail = reject)),
    );
    const pairedExpectation = expect(paired).rejects.toBeInstanceOf(TimeoutError);
    await clock.advance(200);
    await pairedExpectation;
    fail(new Error('upstream reset'));
    const checks = health({ clock }).register(
      'db',
      async (signal) => {
        await fallback(replica).execute(untilAborted, signal);
      },
      {
        timeoutMs: 100,
      },
    );
    const report = checks.run();
    await clock.advance(100);
    expect((await report).checks.db?.status).toBe('fail');
    await clock.advance(1);
    expect(replicaReads).toBe(0);
  });

  describe('gives no substitute once a limit outside a waiting one answered, or the caller cancelled', () => {
    /** Work that fails at `at` on the clock, whatever its signal says. */
    const failsAt = (clock: FakeClock, at: number) => () =>
      new Promise<string>((_, reject) => clock.setTimeout(() => reject(new Error('upstream reset')), at - clock.now()));
    const cases: Array<[string, (clock: FakeClock, replica: () => string) => Promise<unknown>]> = [
      [
        'a soft/hard pair inside an aggressive timeout',
        (clock, replica) =>
          pipeline(timeout(100, { clock }), timeout({ softMs: 50, hardMs: 300, clock }), fallback(replica)).execute(
            failsAt(clock, 150),
          ),
      ],
      [
        'a cooperative timeout inside an aggressive one',
        (clock, replica) =>
          pipeline(timeout(100, { clock }), timeout(50, { clock, strategy: 'cooperative' }), fallback(replica)).execute(
            failsAt(clock, 150),
          ),
      ],
      [
        'an aggressive timeout inside a soft/hard pair',
        (clock, replica) =>
          pipeline(timeout({ softMs: 50, hardMs: 1_000, clock }), timeout(100, { clock }), fallback(replica)).execute(
            failsAt(clock, 150),
          ),
      ],
      [
        'a soft/hard pair inside a health check with timeoutMs',
        (clock, replica) => {
          const soft = pipeline(timeout({ softMs: 50, hardMs: 1_000, clock }), fallback(replica));
          const checks = health({ clock }).register(
            'db',
            async (signal) => {
              await soft.execute(failsAt(clock, 150), signal);
            },
            { timeoutMs: 100 },
          );
          return checks.run();
        },
      ],
      [
        'two soft/hard pairs, the outer one answering at its hard limit',
        (clock, replica) =>
          pipeline(
            timeout({ softMs: 80, hardMs: 120, clock }),
            timeout({ softMs: 50, hardMs: 1_000, clock }),
            fallback(replica),
          ).execute(failsAt(clock, 150)),
      ],
      [
        'two cooperative timeouts, the caller cancelling after both fired',
        (clock, replica) => {
          const caller = new AbortController();
          clock.setTimeout(() => caller.abort(new Error('client went away')), 100);
          return pipeline(
            timeout(80, { clock, strategy: 'cooperative' }),
            timeout(50, { clock, strategy: 'cooperative' }),
            fallback(replica),
          ).execute(failsAt(clock, 150), caller.signal);
        },
      ],
      [
        'the caller cancelling after the soft limit',
        (clock, replica) => {
          const caller = new AbortController();
          clock.setTimeout(() => caller.abort(new Error('client went away')), 60);
          return pipeline(timeout({ softMs: 50, hardMs: 1_000, clock }), fallback(replica)).execute(
            failsAt(clock, 150),
            caller.signal,
          );
        },
      ],
    ];
    it.each(cases)('%s', async (_, run) => {
      const clock = new FakeClock();
      let replicaReads = 0;
      run(clock, () => {
        replicaReads++;
        return 'replica';
      }).catch(() => {});
      await clock.advance(200);
      expect(replicaReads).toBe(0);
    });

    it('substitutes with a timeout and a fallback from two copies of core (ESM and CJS loaded together)', async () => {
      vi.resetModules(); // a second instance of the modules, as a second install has
      const copy = await import('../timeout/timeout.js');
      const clock = new FakeClock();
      const call = pipeline(copy.timeout({ softMs: 50, hardMs: 1_000, clock }), fallback('stale')).execute(
        failsAt(clock, 150),
      );
      await clock.advance(150);
      await expect(call).resolves.toBe('stale');
    });

    it("settles when the function forwards its limit's reason to its caller, and the caller so cancelled gets no substitute", async () => {
      const clock = new FakeClock();
      let replicaReads = 0;
      const caller = new AbortController();
      const call = pipeline(
        timeout(50, { clock, strategy: 'cooperative' }),
        fallback(() => {
          replicaReads++;
          return 'replica';
        }),
      ).execute(({ signal }) => {
        signal.addEventListener('abort', () => caller.abort(signal.reason)); // one timeout cancels the whole request
        return failsAt(clock, 150)();
      }, caller.signal);
      const outcome = expect(call).rejects.toBeInstanceOf(TimeoutError);
      await clock.advance(150);
      await outcome;
      expect(replicaReads).toBe(0);
    });

    it("reads a cycle of waits, which callers forwarding one another's reasons could make, as no wait", () => {
      const [a, b] = [new TimeoutError(1), new TimeoutError(2)];
      awaitedReasons().set(a, b).set(b, a);
      expect(isAwaited(a)).toBe(false);
    });

    it('still substitutes for a soft limit inside another that waits too', async () => {
      const clock = new FakeClock();
      const policy = pipeline(
        timeout({ softMs: 80, hardMs: 1_000, clock }),
        timeout({ softMs: 50, hardMs: 1_000, clock }),
        fallback('stale'),
      );
      const call = policy.execute(failsAt(clock, 150));
      await clock.advance(150);
      await expect(call).resolves.toBe('stale');
    });
  });

  it('substitutes for an inner timeout inside a pipeline', async () => {
    const clock = new FakeClock();
    const policy = pipeline(fallback('stale'), timeout(100, { clock, strategy: 'aggressive' }));
    const call = policy.execute(() => new Promise(() => {}));
    await clock.advance(100);
    await expect(call).resolves.toBe('stale');
  });

  it("reports a 'fallback' event with the error", async () => {
    const policy = fallback(0, { name: 'price' });
    const events: FallbackEvent[] = [];
    policy.onEvent((e) => events.push(e));
    await policy.execute(() => Promise.reject(primaryDown));
    expect(events).toEqual([{ type: 'fallback', policy: 'price', error: primaryDown }]);
  });

  it('rejects invalid options naming each one', () => {
    try {
      fallback(1, { handle: 'all' as never, name: '' });
      throw new Error('no error');
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigurationError);
      expect((e as ConfigurationError).issues.map((i) => i.option)).toEqual(['handle', 'name']);
    }
  });
});
