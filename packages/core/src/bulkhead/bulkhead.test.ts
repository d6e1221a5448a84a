import { AsyncLocalStorage } from 'node:async_hooks';
import { describe, expect, it, vi } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
import { adaptiveLimit } from '../concurrency/adaptive-limit.js';
import { BulkheadRejectedError, ConfigurationError } from '../errors/errors.js';
import { pipeline } from '../pipeline/pipeline.js';
import { rateLimiter } from '../ratelimit/limiter.js';
import { tokenBucket } from '../ratelimit/token-bucket.js';
import { type BulkheadEvent, bulkhead } from './bulkhead.js';
import { BULKHEAD_DEFAULTS } from './options.js';

function gate() {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}
const tick = () => new Promise((r) => setImmediate(r));

describe('bulkhead', () => {
  it('has no queue by default', () => {
    expect(BULKHEAD_DEFAULTS).toEqual({ queue: 0, name: 'bulkhead', retryAfterMs: 1_000 });
    const b = bulkhead({ limit: 2 });
    expect(b.executionSlots).toBe(2);
    expect(b.queueSlots).toBe(0);
    expect([b.limit, b.queue]).toEqual([2, 0]);
  });

  it('runs at most `limit` calls at once and rejects the rest when the queue is full', async () => {
    const b = bulkhead({ limit: 2 });
    const g = gate();
    let running = 0;
    let peak = 0;
    const work = async () => {
      running++;
      peak = Math.max(peak, running);
      await g.promise;
      running--;
      return 'done';
    };
    const a = b.execute(work);
    const c = b.execute(work);
    expect(b.executionSlots).toBe(0);
    const error = await b.execute(work).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BulkheadRejectedError);
    g.open();
    await expect(Promise.all([a, c])).resolves.toEqual(['done', 'done']);
    expect(peak).toBe(2);
    expect(b.executionSlots).toBe(2);
  });

  it('queues up to `queue` calls and starts them in FIFO order as slots free', async () => {
    const b = bulkhead({ limit: 1, queue: 2 });
    const g = gate();
    const order: string[] = [];
    const first = b.execute(async () => {
      await g.promise;
      order.push('first');
    });
    const second = b.execute(() => {
      order.push('second');
    });
    const third = b.execute(async () => {
      order.push('third');
    });
    expect(b.queueSlots).toBe(0);
    await expect(b.execute(() => 'x')).rejects.toBeInstanceOf(BulkheadRejectedError);
    await tick();
    expect(order).toEqual([]);
    g.open();
    await Promise.all([first, second, third]);
    expect(order).toEqual(['first', 'second', 'third']);
    expect(b.executionSlots).toBe(1);
    expect(b.queueSlots).toBe(2);
  });

  it('a queued call whose signal aborts leaves the queue at once and frees its slot', async () => {
    const b = bulkhead({ limit: 1, queue: 1 });
    const g = gate();
    const running = b.execute(() => g.promise);
    const caller = new AbortController();
    let ran = false;
    const queued = b.execute(() => {
      ran = true;
    }, caller.signal);
    expect(b.queueSlots).toBe(0);
    caller.abort(new Error('gave up'));
    await expect(queued).rejects.toThrow('gave up');
    expect(b.queueSlots).toBe(1);
    const next = b.execute(() => 'next');
    g.open();
    await running;
    await expect(next).resolves.toBe('next');
    expect(ran).toBe(false);
  });

  it('rejects a call whose signal is already aborted instead of queueing it', async () => {
    const b = bulkhead({ limit: 1, queue: 5 });
    const g = gate();
    const running = b.execute(() => g.promise);
    const caller = new AbortController();
    caller.abort('no');
    await expect(b.execute(() => 1, caller.signal)).rejects.toBe('no');
    expect(b.queueSlots).toBe(5);
    g.open();
    await running;
  });

  it('frees the slot when a call throws or rejects', async () => {
    const b = bulkhead({ limit: 1 });
    await expect(
      b.execute(() => {
        throw new Error('sync');
      }),
    ).rejects.toThrow('sync');
    await expect(b.execute(() => Promise.reject(new Error('async')))).rejects.toThrow('async');
    expect(b.executionSlots).toBe(1);
    await expect(b.execute(() => 3)).resolves.toBe(3);
  });

  it('removes the abort listener when a queued call starts', async () => {
    const b = bulkhead({ limit: 1, queue: 1 });
    const g = gate();
    const running = b.execute(() => g.promise);
    const caller = new AbortController();
    const queued = b.execute(() => 'ran', caller.signal);
    g.open();
    await running;
    await expect(queued).resolves.toBe('ran');
    caller.abort(); // must not touch the bulkhead any more
    expect(b.queueSlots).toBe(1);
    expect(b.executionSlots).toBe(1);
  });

  it('drains a queue of 20 000 synchronous calls without growing the stack: every call resolves', async () => {
    const b = bulkhead({ limit: 1, queue: 20_000 });
    const g = gate();
    const running = b.execute(() => g.promise);
    const queued = Array.from({ length: 20_000 }, (_, i) =>
      b.execute(() => {
        if (i % 2) throw new Error(`odd ${i}`);
        return i;
      }),
    );
    g.open();
    await running;
    const results = await Promise.allSettled(queued);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(10_000);
    expect(results[19_998]).toEqual({ status: 'fulfilled', value: 19_998 });
    expect(results[19_999]).toMatchObject({ status: 'rejected', reason: new Error('odd 19999') });
    expect([b.executionSlots, b.queueSlots]).toEqual([1, 20_000]);
  });

  it('keeps FIFO order when a queued synchronous call queues another', async () => {
    const b = bulkhead({ limit: 1, queue: 3 });
    const g = gate();
    const order: string[] = [];
    const running = b.execute(() => g.promise);
    let inner: Promise<void> | undefined;
    const first = b.execute(() => {
      order.push('first');
      inner = b.execute(() => {
        order.push('inner');
      });
    });
    const second = b.execute(() => {
      order.push('second');
    });
    g.open();
    await Promise.all([running, first, second]);
    await inner;
    expect(order).toEqual(['first', 'second', 'inner']);
    expect(b.executionSlots).toBe(1);
  });

  it('leaves no gap as a call finishes: an arrival at each microtask queues behind the waiter, no slot sits free', async () => {
    const b = bulkhead({ limit: 1, queue: 2 });
    const g = gate();
    const order: string[] = [];
    const late: Promise<unknown>[] = [];
    const seen: number[] = [];
    // An arrival in every microtask turn from the moment the running call's promise settles
    // (the first before the bulkhead hears of it): none may start before the waiter.
    const arrive = (n: number): void => {
      seen.push(b.executionSlots);
      if (order.length === 0 && n < 20) {
        late.push(b.execute(() => void order.push(`late ${n}`)).catch(() => `refused ${n}`));
        queueMicrotask(() => arrive(n + 1));
      }
    };
    void g.promise.then(() => arrive(0));
    const running = b.execute(() => g.promise);
    const waiter = b.execute(() => void order.push('waiter'));
    g.open();
    await Promise.all([running, waiter, ...late]);
    expect(order[0]).toBe('waiter');
    expect(seen.every((free) => free === 0)).toBe(true); // the slot went straight to the waiter
  });

  it('runs nothing for a queued caller whose signal aborts after its slot was handed over, and frees the slot', async () => {
    const b = bulkhead({ limit: 1, queue: 2 });
    const g = gate();
    const running = b.execute(() => g.promise);
    const caller = new AbortController();
    const fn = vi.fn(() => 'ran');
    const left = b.execute(fn, caller.signal).catch((e: unknown) => e);
    const next = b.execute(() => 'next');
    // Runs after the bulkhead handed the slot over, before the call starts.
    void g.promise.then(() => caller.abort(new Error('gone')));
    g.open();
    await running;
    expect(await left).toEqual(new Error('gone'));
    expect(fn).not.toHaveBeenCalled();
    expect(await next).toBe('next');
    expect([b.executionSlots, b.queueSlots]).toEqual([1, 2]);
  });

  it('starts a queued call in its caller’s async context, not in that of the call that freed its slot', async () => {
    // AsyncLocalStorage is what request-scoped loggers and OpenTelemetry's active span read.
    const als = new AsyncLocalStorage<string>();
    const b = bulkhead({ limit: 1, queue: 1 });
    const g = gate();
    const seen: Array<string | undefined> = [];
    const call = (name: string, fn: () => unknown) =>
      als.run(name, () =>
        b.execute(() => {
          seen.push(als.getStore());
          return fn();
        }),
      );
    const first = call('first', () => g.promise);
    const second = call('second', () => 'done');
    g.open();
    await Promise.all([first, second]);
    expect(seen).toEqual(['first', 'second']);
  });

  it("a rejection carries the bulkhead's sizes as executionSlots and queueSlots, not its free slots (docs/errors.md)", async () => {
    const b = bulkhead({ limit: 2, queue: 1, retryAfterMs: 500 });
    const g = gate();
    const held = [1, 2, 3].map(() => b.execute(() => g.promise));
    expect([b.executionSlots, b.queueSlots]).toEqual([0, 0]);
    const refused = await b.execute(() => 1).catch((error: unknown) => error);
    expect(refused).toMatchObject({ executionSlots: 2, queueSlots: 1, retryAfterMs: 500 });
    g.open();
    await Promise.all(held);
  });

  it("reports 'rejected' events", async () => {
    const b = bulkhead({ limit: 1, name: 'db' });
    const events: BulkheadEvent[] = [];
    b.onEvent((e) => events.push(e));
    const g = gate();
    const running = b.execute(() => g.promise);
    await b.execute(() => 1).catch(() => {});
    expect(events).toEqual([{ type: 'rejected', policy: 'db', executing: 1, queued: 0 }]);
    g.open();
    await running;
  });

  it('frees the slot of a call whose result cannot be read (a revoked Proxy, a `then` getter that throws)', async () => {
    const revoked = () => {
      const { proxy, revoke } = Proxy.revocable({}, {});
      revoke();
      return proxy;
    };
    const throwing = () =>
      Object.defineProperty({}, 'then', {
        get: () => {
          throw new Error('lazy');
        },
      });
    const b = bulkhead({ limit: 1 });
    await expect(b.execute(revoked)).rejects.toThrow(TypeError);
    await expect(b.execute(throwing)).rejects.toThrow('lazy');
    expect(b.executionSlots).toBe(1);
    expect(await b.execute(() => 'ok')).toBe('ok');
  });

  it('rejects invalid options naming each one', () => {
    try {
      bulkhead({ limit: 0, queue: -1, name: '', maxQueueMs: 0, retryAfterMs: -1, clock: {} as never });
      throw new Error('no error');
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigurationError);
      expect((e as ConfigurationError).issues.map((i) => i.option)).toEqual([
        'limit',
        'queue',
        'name',
        'maxQueueMs',
        'retryAfterMs',
        'clock',
      ]);
    }
    expect(() => bulkhead({} as never)).toThrow(ConfigurationError);
    // A wait bound with no queue: no call ever waits, so it would bound nothing.
    expect(() => bulkhead({ limit: 1, maxQueueMs: 500 })).toThrow(
      'Invalid bulkhead options: maxQueueMs: received 500, expected none without a queue',
    );
    expect(() => bulkhead({ limit: 1, queue: 1, maxQueueMs: 500 })).not.toThrow();
    expect(() => bulkhead({ limit: { next() {} } as never })).toThrow(
      /limit: received .*expected an integer >= 1 or an adaptiveLimit/,
    );
  });

  it('rejects with the retryAfterMs it is given, for a Retry-After', async () => {
    const b = bulkhead({ limit: 1, retryAfterMs: 2_500 });
    const g = gate();
    const running = b.execute(() => g.promise);
    const error = (await b.execute(() => 1).catch((e: unknown) => e)) as BulkheadRejectedError;
    expect(error).toBeInstanceOf(BulkheadRejectedError);
    expect(error.retryAfterMs).toBe(2_500);
    expect(new BulkheadRejectedError(1, 0).retryAfterMs).toBe(0);
    g.open();
    await running;
  });

  it('rejects a call that waited maxQueueMs in the queue, with one timer for the whole queue', async () => {
    const clock = new FakeClock();
    const b = bulkhead({ limit: 1, queue: 10, maxQueueMs: 100, clock });
    const g = gate();
    const running = b.execute(() => g.promise);
    const early = b.execute(() => 'early').catch((e: unknown) => e);
    await clock.advance(40);
    const late = b.execute(() => 'late').catch((e: unknown) => e);
    expect(clock.pendingTimers).toBe(1);
    await clock.advance(60); // `early` has waited 100 ms
    expect(await early).toBeInstanceOf(BulkheadRejectedError);
    // Its limits, not counts: 1 ran and 2 waited, not 10.
    // It says it waited its maxQueueMs, not that the bulkhead was full (9 queue places were free).
    expect(((await early) as Error).message).toBe('Waited maxQueueMs (100 ms) for a bulkhead slot (limit 1, queue 10)');
    expect(await early).toMatchObject({ code: 'bulkhead_full', retryAfterMs: 1_000 });
    expect([b.queueSlots, clock.pendingTimers]).toEqual([9, 1]);
    g.open();
    await running;
    expect(await late).toBe('late'); // started before its 100 ms were up
    expect(clock.pendingTimers).toBe(0); // an empty queue keeps no timer
  });

  it('counts a queue timeout as a rejection event', async () => {
    const clock = new FakeClock();
    const b = bulkhead({ limit: 1, queue: 1, maxQueueMs: 10, clock, name: 'pool' });
    const events: BulkheadEvent[] = [];
    b.onEvent((e) => events.push(e));
    const g = gate();
    const running = b.execute(() => g.promise);
    const queued = b.execute(() => 1).catch((e: unknown) => e);
    await clock.advance(10);
    expect(await queued).toBeInstanceOf(BulkheadRejectedError);
    expect(events).toEqual([{ type: 'rejected', policy: 'pool', executing: 1, queued: 0 }]);
    g.open();
    await running;
  });

  it('follows an adaptive limit: measured on its clock, shrinking when latency rises', async () => {
    const clock = new FakeClock();
    const limit = adaptiveLimit({ initialLimit: 8, baselineSamples: 4, smoothing: 1 });
    const b = bulkhead({ limit, queue: 100, clock });
    expect([b.limit, b.executionSlots]).toEqual([4, 4]); // the baseline is measured at half the initial limit
    const call = (ms: number) => b.execute(() => clock.sleep(ms));
    // Four calls of 100 ms at concurrency 4 measure the baseline; the limit becomes 8.
    const first = [call(100), call(100), call(100), call(100)];
    await clock.advance(100);
    await Promise.all(first);
    expect([b.limit, b.limitState?.baselineMs]).toEqual([8, 100]);
    // Eight calls that take 300 ms: three times the baseline, so the limit halves after a round.
    const slow = Array.from({ length: 8 }, () => call(300));
    await clock.advance(300);
    await Promise.all(slow);
    expect(b.limit).toBe(4);
    expect(b.executionSlots).toBe(4);
  });

  it('learns nothing from a cancelled call: how soon its caller gave up says nothing of the load', async () => {
    const clock = new FakeClock();
    const b = bulkhead({ limit: adaptiveLimit({ initialLimit: 8, baselineSamples: 1 }), clock });
    const gaveUp = Object.assign(new Error('the client left'), { code: 'ABORT_ERR' });
    await expect(b.execute(() => Promise.reject(gaveUp))).rejects.toBe(gaveUp);
    await expect(
      b.execute(() => {
        throw new DOMException('aborted', 'AbortError');
      }),
    ).rejects.toThrow('aborted');
    expect([b.limit, b.limitState]).toEqual([4, undefined]); // still measuring its first baseline
    await expect(b.execute(() => Promise.reject(new Error('failed')))).rejects.toThrow('failed');
    expect(b.limit).toBe(8); // a failure is a sample: it took that long
  });

  it("learns nothing from a call the toolkit's own policy refused inside it: a burst past a quota does not set the baseline", async () => {
    const clock = new FakeClock();
    const b = bulkhead({
      limit: adaptiveLimit({ initialLimit: 8, baselineSamples: 4, smoothing: 1 }),
      queue: 100,
      clock,
    });
    // A provider quota of 2 inside the shedder: in a burst from cold, the rest are refused at once.
    const quota = rateLimiter({ algorithm: tokenBucket({ capacity: 2, refillPerSecond: 1 }), clock });
    const calls = pipeline(b, quota.policy({ key: 'provider', maxWaitMs: 0 }));
    const burst = Array.from({ length: 8 }, () => calls.execute(() => clock.sleep(100)).catch((e: unknown) => e));
    await clock.advance(100);
    await Promise.all(burst);
    expect(b.limitState?.baselineMs ?? 0).not.toBe(1); // not the 0 ms the refusals took (floored to 1)
    // Calls of 100 ms, the dependency's own speed, do not shed themselves.
    await clock.advance(60_000);
    const rounds = Array.from({ length: 40 }, () => calls.execute(() => clock.sleep(100)).catch((e: unknown) => e));
    for (let i = 0; i < 40; i++) await clock.advance(100);
    await Promise.all(rounds);
    expect(b.limit).toBeGreaterThanOrEqual(4);
  });

  it('never reports negative free slots when an adaptive limit falls below the calls running', async () => {
    const clock = new FakeClock();
    const b = bulkhead({ limit: adaptiveLimit({ initialLimit: 20, baselineSamples: 1, smoothing: 1 }), clock });
    const quick = b.execute(() => clock.sleep(10));
    const long = Array.from({ length: 9 }, () => b.execute(() => clock.sleep(1_000)));
    await clock.advance(10);
    await quick;
    const first = b.execute(() => clock.sleep(100));
    const others = Array.from({ length: 9 }, () => b.execute(() => clock.sleep(200)));
    await clock.advance(100);
    await first; // ten times the baseline: the limit halves to 10 while 18 calls run
    expect([b.limit, b.executionSlots]).toEqual([10, 0]);
    await clock.advance(100);
    await Promise.all(others);
    await clock.runAll();
    await Promise.all(long);
  });
});
