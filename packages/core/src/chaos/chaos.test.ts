import { describe, expect, expectTypeOf, it } from 'vitest';
import type { Clock } from '../clock/clock.js';
import { FakeClock } from '../clock/fake-clock.js';
import { seededRandom } from '../clock/seeded-random.js';
import { isTransient } from '../errors/classify.js';
import { ConfigurationError } from '../errors/errors.js';
import { fallback } from '../fallback/fallback.js';
import { pipeline } from '../pipeline/pipeline.js';
import { backoff } from '../retry/backoff.js';
import { retry } from '../retry/retry.js';
import { type ChaosEvent, chaos } from './chaos.js';
import { CHAOS_DEFAULTS } from './options.js';

const settle = (p: Promise<unknown>) =>
  p.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );

/** A clock and a random source that fail the test if anything reads them. */
const untouchable = {
  clock: {
    now: () => {
      throw new Error('clock read');
    },
    sleep: () => {
      throw new Error('clock read');
    },
    setTimeout: () => {
      throw new Error('clock read');
    },
    clearTimeout: () => {
      throw new Error('clock read');
    },
  } satisfies Clock,
  random: () => {
    throw new Error('random drawn');
  },
};

describe('chaos', () => {
  it('pins its defaults', () => {
    expect(CHAOS_DEFAULTS).toEqual({ faultRate: 1, latencyMs: 0, latencyRate: 1, enabled: true, name: 'chaos' });
  });

  it('injects nothing unless told to', async () => {
    await expect(chaos({ ...untouchable }).execute(() => 'through')).resolves.toBe('through');
  });

  it('fails faultRate of the calls with a transient fault, the same ones for the same seed', async () => {
    const run = async (seed: number) => {
      const policy = chaos({ faultRate: 0.3, random: seededRandom(seed) });
      const outcomes = [];
      for (let i = 0; i < 1_000; i++) outcomes.push(await settle(policy.execute(() => i)));
      return outcomes;
    };
    const first = await run(42);
    const faults = first.filter((o) => 'error' in o);
    expect(faults.length).toBeGreaterThan(250);
    expect(faults.length).toBeLessThan(350);
    expect(faults.every((o) => 'error' in o && isTransient(o.error))).toBe(true);
    expect((faults[0] as { error: Error }).error.message).toMatch(/chaos/);
    expect(await run(42)).toEqual(first);
  });

  it('throws the given fault, or the one a function builds from the context', async () => {
    const quota = Object.assign(new Error('quota'), { status: 429 });
    await expect(chaos({ fault: quota }).execute(() => 1)).rejects.toBe(quota);
    const built = chaos({ fault: ({ attempt }) => new Error(`attempt ${attempt}`) });
    await expect(built.execute(() => 1)).rejects.toThrow('attempt 1');
  });

  it('resolves with an outcome instead of calling the function, typed with it', async () => {
    let calls = 0;
    const policy = chaos({ outcome: { status: 503 } });
    const result = await policy.execute(() => {
      calls++;
      return 'real';
    });
    expect(result).toEqual({ status: 503 });
    expect(calls).toBe(0);
    expectTypeOf(result).toEqualTypeOf<string | { status: number }>();
    const fromFn = chaos({ outcome: ({ attempt }) => Promise.resolve(attempt * 10) });
    await expect(fromFn.execute(() => 1)).resolves.toBe(10);
    expectTypeOf(pipeline(fallback(null), chaos({ outcome: 'stale' })).execute(() => 1)).resolves.toEqualTypeOf<
      number | string | null
    >();
  });

  it('delays calls by latencyMs on the injected clock, at latencyRate', async () => {
    const clock = new FakeClock();
    const started: number[] = [];
    const policy = chaos({ latencyMs: 500, latencyRate: 0.5, clock, random: seededRandom(7) });
    const calls = Array.from({ length: 100 }, () => policy.execute(() => started.push(clock.now())));
    await clock.advance(499);
    const immediate = started.length;
    await clock.advance(1);
    await Promise.all(calls);
    expect(started.filter((t) => t === 500)).toHaveLength(100 - immediate);
    expect(immediate).toBeGreaterThan(30);
    expect(immediate).toBeLessThan(70);
  });

  it('a latency is cut short by the caller’s signal: the function is never called and no timer is left', async () => {
    const clock = new FakeClock();
    const caller = new AbortController();
    let calls = 0;
    const call = chaos({ latencyMs: 10_000, clock }).execute(() => calls++, caller.signal);
    await clock.advance(100);
    caller.abort(new Error('gave up'));
    await expect(call).rejects.toThrow('gave up');
    expect(calls).toBe(0);
    expect(clock.pendingTimers).toBe(0);
  });

  it('applies latency before the fault', async () => {
    const clock = new FakeClock();
    const call = settle(chaos({ latencyMs: 200, faultRate: 1, clock }).execute(() => 1));
    await clock.advance(200);
    expect(await call).toMatchObject({ error: { code: 'ECONNRESET' } });
    expect(clock.now()).toBe(200);
  });

  it('disabled, it calls straight through: synchronously, without reading the clock or drawing a number', async () => {
    const policy = chaos({ enabled: false, faultRate: 1, latencyMs: 1_000, ...untouchable });
    let called = false;
    const result = policy.execute(() => {
      called = true;
      return 'through';
    });
    expect(called).toBe(true); // before any await: no extra frame, timer or controller
    await expect(result).resolves.toBe('through');
    const throwing = policy.execute(() => {
      throw new Error('own');
    });
    await expect(throwing).rejects.toThrow('own');
  });

  it('evaluates an enabled function on every call, so it can be switched at run time', async () => {
    let on = false;
    const seen: number[] = [];
    const policy = chaos({
      faultRate: 1,
      enabled: ({ attempt }) => {
        seen.push(attempt);
        return on;
      },
    });
    await expect(policy.execute(() => 'a')).resolves.toBe('a');
    on = true;
    await expect(policy.execute(() => 'b')).rejects.toThrow(/chaos/);
    on = false;
    await expect(policy.execute(() => 'c')).resolves.toBe('c');
    expect(seen).toEqual([1, 1, 1]);
  });

  it('only an enabled answer of true injects: an async flag lookup is refused, a promise leaves calls alone', async () => {
    // A promise is truthy: an async lookup answering false injected faults into every call.
    const lookup = async () => false;
    expect(() => chaos({ faultRate: 1, enabled: lookup as never })).toThrow(
      /enabled: received a function, expected .*not async/,
    );
    const pending = (() => Promise.resolve(false)) as unknown as () => boolean;
    await expect(chaos({ faultRate: 1, enabled: pending }).execute(() => 'real')).resolves.toBe('real');
    const text = (() => '0') as unknown as () => boolean; // CHAOS=0 read from the environment
    await expect(chaos({ faultRate: 1, enabled: text }).execute(() => 'real')).resolves.toBe('real');
  });

  it('a fault builder or an enabled function that throws rejects the call with its error', async () => {
    const bug = new Error('bug');
    const fail = () => {
      throw bug;
    };
    await expect(chaos({ fault: fail }).execute(() => 1)).rejects.toBe(bug);
    await expect(chaos({ faultRate: 1, enabled: fail }).execute(() => 1)).rejects.toBe(bug);
  });

  it('lets a pipeline prove it recovers: a retry outside chaos absorbs injected faults', async () => {
    const clock = new FakeClock();
    const policy = pipeline(
      retry({ maxAttempts: 4, backoff: backoff.constant(10), clock }),
      chaos({ faultRate: 0.3, random: seededRandom(3) }),
    );
    const results = [];
    for (let i = 0; i < 100; i++) {
      const call = settle(policy.execute(() => 'ok'));
      await clock.advance(30);
      results.push(await call);
    }
    expect(results.filter((r) => 'value' in r).length).toBeGreaterThanOrEqual(98);
  });

  it("reports 'latency', 'fault' and 'outcome' events stamped with its name", async () => {
    const clock = new FakeClock();
    const events: ChaosEvent[] = [];
    const fault = new Error('x');
    const slow = chaos({ name: 'slow', latencyMs: 5, fault, clock });
    slow.onEvent((e) => events.push(e));
    const call = settle(slow.execute(() => 1));
    await clock.advance(5);
    await call;
    const stub = chaos({ name: 'stub', outcome: 0 });
    stub.onEvent((e) => events.push(e));
    await stub.execute(() => 1);
    expect(events).toEqual([
      { type: 'latency', policy: 'slow', delayMs: 5 },
      { type: 'fault', policy: 'slow', error: fault },
      { type: 'outcome', policy: 'stub' },
    ]);
  });

  it('rejects invalid options, naming each', () => {
    const issues = (options: unknown) => {
      try {
        chaos(options as never);
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigurationError);
        return (e as ConfigurationError).issues.map((i) => i.option);
      }
      return [];
    };
    expect(
      issues({
        faultRate: 1.5,
        latencyRate: -1,
        latencyMs: Number.NaN,
        fault: 'boom',
        enabled: 'yes',
        name: '',
        clock: {},
        random: 0.5,
      }),
    ).toEqual(['faultRate', 'latencyRate', 'latencyMs', 'fault', 'enabled', 'name', 'clock', 'random']);
    expect(issues({ fault: new Error('a'), outcome: 1 })).toEqual(['outcome']);
    expect(issues({ latencyRate: 0.5 })).toEqual(['latencyMs']);
    expect(issues(null)).toEqual(['options']);
  });
});
