import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
import { ConfigurationError, StoreUnavailableError, TimeoutError } from '../errors/errors.js';
import { memoryStore } from '../store/memory.js';
import { storeOver } from '../testing/store-over.js';
import { MESSAGE_PROCESSOR_DEFAULTS } from './options.js';
import { messageProcessor } from './processor.js';

interface Msg {
  id: string;
  body: string;
}

const msg = (id = 'm1', body = '{"amount":5}'): Msg => ({ id, body });
const lost = () => Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });

describe('messageProcessor', () => {
  it('pins its defaults', () => {
    expect(MESSAGE_PROCESSOR_DEFAULTS).toEqual({
      maxAttempts: 3,
      retryTtlMs: 3_600_000,
      deadLetterLeaseMs: 30_000,
      keyPrefix: 'default',
      name: 'message-processor',
      retryBackoff: { initialMs: 1_000, multiplier: 2, maxMs: 60_000 },
    });
  });

  it('acknowledges a handled message and counts it', async () => {
    const handler = vi.fn();
    const p = messageProcessor<Msg>({ handler, deadLetter: vi.fn() });
    expect((await p.process(msg())).outcome).toBe('done');
    expect(handler).toHaveBeenCalledWith(msg(), { signal: expect.any(AbortSignal), attempt: 1 });
    expect(p.stats.processed).toBe(1);
  });

  it('dead-letters malformed JSON at once as poison, with a human-readable description', async () => {
    const deadLetter = vi.fn();
    const handler = vi.fn((m: Msg) => JSON.parse(m.body));
    const p = messageProcessor<Msg>({ handler, deadLetter });
    expect((await p.process(msg('m1', '{"amount":'))).outcome).toBe('dead_lettered');
    expect(handler).toHaveBeenCalledTimes(1);
    const [, info] = deadLetter.mock.calls[0]!;
    expect(info.reason).toBe('poison');
    expect(info.attempts).toBe(1);
    expect(info.error).toBeInstanceOf(SyntaxError);
    expect(info.description).toMatch(/^Message m1 is poison: the payload is malformed .*SyntaxError/);
    expect(p.stats.deadLettered).toEqual({ poison: 1, max_retries_exceeded: 0 });
  });

  it('treats TypeErrors and validation errors as poison, and lets isPoison decide first', async () => {
    const deadLetter = vi.fn();
    const errors: unknown[] = [
      new TypeError("Cannot read properties of undefined (reading 'amount')"),
      Object.assign(new Error('amount is required'), { name: 'ValidationError' }),
      new Error('custom bad message'),
    ];
    let i = 0;
    const p = messageProcessor<Msg>({
      handler: () => {
        throw errors[i++];
      },
      deadLetter,
      isPoison: (error) => ((error as Error).message === 'custom bad message' ? true : undefined),
    });
    for (const id of ['a', 'b', 'c']) expect((await p.process(msg(id))).outcome).toBe('dead_lettered');
    expect(deadLetter.mock.calls.map(([, info]) => info.description)).toEqual([
      expect.stringMatching(/a field is missing or has the wrong type/),
      expect.stringMatching(/failed validation/),
      expect.stringMatching(/isPoison\(\) marked/),
    ]);
  });

  it('treats HTTP 4xx as poison except 401/403/407, 408, 409/412/423 and 429, as docs/messages.md says', async () => {
    const outcomes: Record<number, string> = {};
    for (const status of [400, 401, 403, 404, 407, 408, 409, 410, 412, 422, 423, 429]) {
      const error = Object.assign(new Error(`HTTP ${status}`), { status });
      const p = messageProcessor<Msg>({ handler: () => Promise.reject(error), deadLetter: vi.fn() });
      outcomes[status] = (await p.process(msg())).outcome;
    }
    const poison = Object.keys(outcomes).filter((s) => outcomes[Number(s)] === 'dead_lettered');
    expect(poison).toEqual(['400', '404', '410', '422']);
    const cause = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    const fetchFailed = new TypeError('fetch failed', { cause });
    const p = messageProcessor<Msg>({ handler: () => Promise.reject(fetchFailed), deadLetter: vi.fn() });
    expect((await p.process(msg())).outcome).toBe('retry');
  });

  it('lets isPoison say a validation-looking error is not poison', async () => {
    const p = messageProcessor<Msg>({
      handler: () => {
        throw new TypeError('fetch failed');
      },
      deadLetter: vi.fn(),
      isPoison: () => false,
    });
    expect((await p.process(msg())).outcome).toBe('retry');
  });

  it('lets the built-in rule decide when isPoison throws, and reports the throw as an event', async () => {
    const broken = new Error('isPoison bug');
    const deadLetter = vi.fn();
    const p = messageProcessor<Msg>({
      handler: (m) => (m.id === 'bad' ? JSON.parse('{') : Promise.reject(lost())),
      deadLetter,
      isPoison: () => {
        throw broken;
      },
    });
    const events: unknown[] = [];
    p.onEvent((e) => e.type === 'callback_failed' && events.push(e));
    expect((await p.process(msg('bad'))).outcome).toBe('dead_lettered');
    expect(deadLetter.mock.calls[0]![1]).toMatchObject({ reason: 'poison', error: expect.any(SyntaxError) });
    expect((await p.process(msg('flaky'))).outcome).toBe('retry');
    expect(events).toEqual([
      { type: 'callback_failed', policy: 'message-processor', callback: 'isPoison', id: 'bad', error: broken },
      { type: 'callback_failed', policy: 'message-processor', callback: 'isPoison', id: 'flaky', error: broken },
    ]);
  });

  it('dead-letters a message exactly once after maxAttempts transient failures', async () => {
    const deadLetter = vi.fn();
    const handler = vi.fn((_m: Msg, _ctx: { attempt: number }) => Promise.reject(lost()));
    const p = messageProcessor<Msg>({ handler, deadLetter, maxAttempts: 3 });
    const outcomes = [];
    for (let delivery = 0; delivery < 5; delivery++) outcomes.push((await p.process(msg())).outcome);
    expect(outcomes).toEqual(['retry', 'retry', 'dead_lettered', 'dead_lettered', 'dead_lettered']);
    expect(handler).toHaveBeenCalledTimes(3);
    expect(handler.mock.calls.map(([, ctx]) => ctx.attempt)).toEqual([1, 2, 3]);
    expect(deadLetter).toHaveBeenCalledTimes(1);
    expect(deadLetter.mock.calls[0]![1]).toMatchObject({ reason: 'max_retries_exceeded', attempts: 3 });
    expect(deadLetter.mock.calls[0]![1].description).toMatch(/failed 3 of 3 attempts.*socket hang up/);
    expect(p.stats).toMatchObject({ retried: 2, duplicates: 2, deadLettered: { max_retries_exceeded: 1, poison: 0 } });
  });

  it('retries and then dead-letters a handler failure that has no string form, instead of rejecting', async () => {
    const deadLetter = vi.fn();
    const unprintable = Object.create(null) as object; // String() of it throws
    const p = messageProcessor<Msg>({ handler: () => Promise.reject(unprintable), deadLetter, maxAttempts: 2 });
    expect(await p.process(msg())).toMatchObject({ outcome: 'retry' });
    expect(await p.process(msg())).toEqual({ outcome: 'dead_lettered' });
    expect(deadLetter.mock.calls[0]![1]).toMatchObject({ reason: 'max_retries_exceeded', error: unprintable });
  });

  it('keeps an error text of at most 1 000 characters in the store and in the description', async () => {
    const store = memoryStore();
    const apply = vi.spyOn(store, 'apply');
    const deadLetter = vi.fn();
    const echo = new Error(`cannot handle ${'x'.repeat(1_000_000)}`); // an error that echoes a huge payload
    const p = messageProcessor<Msg>({ handler: () => Promise.reject(echo), deadLetter, store, maxAttempts: 2 });
    await p.process(msg());
    await p.process(msg());
    const stored = apply.mock.calls.map(([, , input]) => JSON.stringify(input ?? null).length);
    expect(Math.max(...stored)).toBeLessThanOrEqual(1_100);
    expect(deadLetter.mock.calls[0]![1].description.length).toBeLessThanOrEqual(1_200);
  });

  it('cuts the error text and the id between characters, never inside an emoji: the description stays well-formed', async () => {
    const store = memoryStore();
    const deadLetter = vi.fn();
    // "Error: " and 992 characters put the emoji at 999-1000; the id's at 200-201.
    const echo = new Error(`${'x'.repeat(992)}😀 and the rest of a quoted payload`);
    const id = `${'i'.repeat(199)}😀${'j'.repeat(10)}`;
    const p = messageProcessor<Msg>({ handler: () => Promise.reject(echo), deadLetter, store, maxAttempts: 2 });
    await p.process(msg(id));
    const [key] = await store.keys('{msg:', 0);
    const { last } = (await store.get(key!, 0)) as { last: string };
    expect(last).toBe(`Error: ${'x'.repeat(992)}`);
    await p.process(msg(id));
    const { description } = deadLetter.mock.calls[0]![1] as { description: string };
    // A lone surrogate has no UTF-8 form: encodeURIComponent throws on it (a sink that puts the description in a URL).
    expect(() => encodeURIComponent(description)).not.toThrow();
    expect(description).toContain(`Message ${'i'.repeat(199)}… failed 2 of 2`);
  });

  it('acknowledges unrun another message with a dead-lettered id (a second queue on the store), unless its keyPrefix is its own', async () => {
    const store = memoryStore();
    const poison = () => Promise.reject(new SyntaxError('Unexpected token'));
    const orders = messageProcessor<Msg>({ handler: poison, deadLetter: vi.fn(), store });
    expect(await orders.process(msg('1'))).toEqual({ outcome: 'dead_lettered' });
    const handler = vi.fn();
    const deadLetter = vi.fn();
    const emails = messageProcessor<Msg>({ handler, deadLetter, store });
    expect(await emails.process(msg('1'))).toEqual({ outcome: 'dead_lettered' });
    expect([handler.mock.calls.length, deadLetter.mock.calls.length, emails.stats.duplicates]).toEqual([0, 0, 1]);
    const own = messageProcessor<Msg>({ handler, deadLetter, store, keyPrefix: 'emails' });
    expect(await own.process(msg('1'))).toEqual({ outcome: 'done' });
    expect(handler).toHaveBeenCalledTimes(1);
  });

  it('counts attempts per message id across processors sharing a store', async () => {
    const store = memoryStore();
    const deadLetter = vi.fn();
    const make = () =>
      messageProcessor<Msg>({ handler: () => Promise.reject(lost()), deadLetter, store, maxAttempts: 2 });
    expect((await make().process(msg('x'))).outcome).toBe('retry');
    expect((await make().process(msg('y'))).outcome).toBe('retry');
    expect((await make().process(msg('x'))).outcome).toBe('dead_lettered');
    expect(deadLetter).toHaveBeenCalledTimes(1);
  });

  it('forgets attempts after retryTtlMs and after a success', async () => {
    const clock = new FakeClock();
    let fail = true;
    const p = messageProcessor<Msg>({
      handler: () => (fail ? Promise.reject(lost()) : undefined),
      deadLetter: vi.fn(),
      maxAttempts: 2,
      retryTtlMs: 1_000,
      clock,
    });
    expect((await p.process(msg())).outcome).toBe('retry');
    await clock.advance(1_000);
    expect((await p.process(msg())).outcome).toBe('retry'); // attempt 1 again
    fail = false;
    expect((await p.process(msg())).outcome).toBe('done');
    fail = true;
    expect((await p.process(msg())).outcome).toBe('retry');
  });

  it('rejects when the dead-letter sink fails, so the queue redelivers, and sinks on redelivery', async () => {
    const sinkDown = new Error('DLQ unavailable');
    const deadLetter = vi.fn().mockRejectedValueOnce(sinkDown).mockResolvedValue(undefined);
    const handler = vi.fn(() => Promise.reject(lost()));
    const p = messageProcessor<Msg>({ handler, deadLetter, maxAttempts: 1 });
    await expect(p.process(msg())).rejects.toBe(sinkDown);
    expect((await p.process(msg())).outcome).toBe('dead_lettered');
    expect(handler).toHaveBeenCalledTimes(1); // the redelivery is not run again
    expect(deadLetter).toHaveBeenCalledTimes(2);
    expect(deadLetter.mock.calls[1]![1]).toMatchObject({
      reason: 'max_retries_exceeded',
      attempts: 2,
      error: undefined,
    });
    expect(deadLetter.mock.calls[1]![1].description).toMatch(/Last error: Error: socket hang up/);
    expect(p.stats.sinkFailures).toBe(1);
  });

  it("rejects with the sink's failure when the store then throws, not rejects, as the key is released", async () => {
    const sinkDown = new Error('DLQ unavailable');
    const base = memoryStore();
    let storeDown = false;
    const store = storeOver(base, {
      apply: (key, t, input, now) => {
        if (storeDown) throw new StoreUnavailableError('store: connection is closed');
        return base.apply(key, t, input, now);
      },
    });
    const deadLetter = vi.fn(async () => {
      storeDown = true;
      throw sinkDown;
    });
    const p = messageProcessor<Msg>({ handler: () => Promise.reject(lost()), deadLetter, maxAttempts: 1, store });
    await expect(p.process(msg())).rejects.toBe(sinkDown);
    expect(p.stats.sinkFailures).toBe(1);
  });

  it('dead-letters a message that crashed its consumer maxAttempts times without running it again', async () => {
    const store = memoryStore();
    const deadLetter = vi.fn();
    const crashing = messageProcessor<Msg>({ handler: () => new Promise(() => {}), deadLetter, store, maxAttempts: 2 });
    void crashing.process(msg());
    void crashing.process(msg());
    await Promise.resolve();
    const handler = vi.fn();
    const fresh = messageProcessor<Msg>({ handler, deadLetter, store, maxAttempts: 2 });
    expect((await fresh.process(msg())).outcome).toBe('dead_lettered');
    expect(handler).not.toHaveBeenCalled();
    expect(deadLetter.mock.calls[0]![1].reason).toBe('max_retries_exceeded');
  });

  it('forgets the attempt of a consumer that crashed mid-message after retryTtlMs', async () => {
    const clock = new FakeClock();
    const store = memoryStore();
    const deadLetter = vi.fn();
    const options = { deadLetter, store, maxAttempts: 1, retryTtlMs: 1_000, clock };
    void messageProcessor<Msg>({ ...options, handler: () => new Promise(() => {}) }).process(msg());
    await clock.advance(999);
    expect(await store.get('{msg:default|m1}', clock.now())).toEqual({ n: 1 });
    await clock.advance(1);
    const handler = vi.fn();
    expect((await messageProcessor<Msg>({ ...options, handler }).process(msg())).outcome).toBe('done');
    expect(deadLetter).not.toHaveBeenCalled();
    expect(handler).toHaveBeenCalledWith(msg(), expect.objectContaining({ attempt: 1 }));
  });

  it('dead-letters a message without an id as poison', async () => {
    const deadLetter = vi.fn();
    const p = messageProcessor<{ body: string }>({ handler: vi.fn(), deadLetter });
    expect((await p.process({ body: 'x' })).outcome).toBe('dead_lettered');
    expect(deadLetter.mock.calls[0]![1]).toMatchObject({
      reason: 'poison',
      description: expect.stringMatching(/no id/),
    });
  });

  it('dead-letters a message whose id is over 1 024 characters as poison, keeping nothing of it in the store', async () => {
    const deadLetter = vi.fn();
    const handler = vi.fn();
    const store = memoryStore();
    const p = messageProcessor<{ id: string }>({ handler, deadLetter, store });
    expect((await p.process({ id: 'x'.repeat(200_000) })).outcome).toBe('dead_lettered');
    expect(handler).not.toHaveBeenCalled();
    expect(deadLetter.mock.calls[0]![1]).toMatchObject({
      reason: 'poison',
      description: expect.stringMatching(/over 1 024/),
    });
    expect(store.size).toBe(0);
    expect((await p.process({ id: 'x'.repeat(1_024) })).outcome).toBe('done');
  });

  it('treats an id of NaN or Infinity as no id, so such messages never share one counter', async () => {
    const deadLetter = vi.fn();
    const handler = vi.fn();
    const p = messageProcessor<{ id: number }>({ handler, deadLetter });
    for (const id of [Number.NaN, Number.POSITIVE_INFINITY])
      expect((await p.process({ id })).outcome).toBe('dead_lettered');
    expect(handler).not.toHaveBeenCalled();
    expect(deadLetter.mock.calls.map(([, info]) => info.reason)).toEqual(['poison', 'poison']);
    expect((await p.process({ id: 7 })).outcome).toBe('done');
  });

  it('dead-letters a message whose id is an object or a boolean, which would share one counter with every other', async () => {
    const deadLetter = vi.fn();
    const handler = vi.fn();
    const p = messageProcessor<{ id: unknown }>({ handler, deadLetter });
    for (const id of [{ n: 1 }, true]) expect((await p.process({ id })).outcome).toBe('dead_lettered');
    expect(handler).not.toHaveBeenCalled();
    expect(deadLetter.mock.calls.map((c) => c[1].reason)).toEqual(['poison', 'poison']);
  });

  it('uses idOf for the id', async () => {
    const store = memoryStore();
    const p = messageProcessor<{ key: string }>({
      handler: () => Promise.reject(lost()),
      deadLetter: vi.fn(),
      idOf: (m) => m.key,
      store,
    });
    expect((await p.process({ key: 'k-1' })).outcome).toBe('retry');
    expect(await store.get('{msg:default|k-1}', 0)).toMatchObject({ n: 1 });
  });

  it('aborts the handler signal at the soft limit and fails the attempt as transient at the hard limit', async () => {
    const clock = new FakeClock();
    const seen: unknown[] = [];
    const p = messageProcessor<Msg>({
      handler: (_m, { signal }) =>
        new Promise(() => {
          signal.addEventListener('abort', () => seen.push(signal.reason));
        }),
      deadLetter: vi.fn(),
      softTimeoutMs: 100,
      hardTimeoutMs: 300,
      clock,
    });
    const outcome = p.process(msg());
    await clock.advance(100);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toBeInstanceOf(TimeoutError);
    await clock.advance(200);
    expect((await outcome).outcome).toBe('retry');
    expect(p.stats).toMatchObject({ softTimeouts: 1, hardTimeouts: 1, retried: 1 });
    expect(clock.pendingTimers).toBe(0);
  });

  it('lets a handler that stops at the soft limit fail the attempt as transient', async () => {
    const clock = new FakeClock();
    const p = messageProcessor<Msg>({
      handler: (_m, { signal }) =>
        new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
      deadLetter: vi.fn(),
      softTimeoutMs: 50,
      clock,
    });
    const outcome = p.process(msg());
    await clock.advance(50);
    expect((await outcome).outcome).toBe('retry');
  });

  it('clears its timers when the handler finishes in time', async () => {
    const clock = new FakeClock();
    const p = messageProcessor<Msg>({
      handler: () => 1,
      deadLetter: vi.fn(),
      softTimeoutMs: 50,
      hardTimeoutMs: 60,
      clock,
    });
    expect((await p.process(msg())).outcome).toBe('done');
    expect(clock.pendingTimers).toBe(0);
  });

  it('rejects invalid options with one ConfigurationError naming each', () => {
    let error: unknown;
    try {
      messageProcessor({ maxAttempts: 0, softTimeoutMs: 100, hardTimeoutMs: 50 } as never);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as ConfigurationError).issues.map((i) => i.option)).toEqual([
      'handler',
      'deadLetter',
      'maxAttempts',
      'hardTimeoutMs',
    ]);
  });

  it('refuses a hardTimeoutMs that is not below retryTtlMs: the attempt counter would expire while an attempt runs', () => {
    const noop = () => {};
    expect(() =>
      messageProcessor({ handler: noop, deadLetter: noop, retryTtlMs: 10_000, hardTimeoutMs: 10_000 }),
    ).toThrow(
      'Invalid messageProcessor options: hardTimeoutMs: received 10000, expected a number below retryTtlMs (10000), or the attempt counter expires while an attempt runs and its attempts count from 1 again',
    );
    expect(() => messageProcessor({ handler: noop, deadLetter: noop, hardTimeoutMs: 3_600_000 })).toThrow(
      /retryTtlMs \(3600000\)/,
    );
    expect(() =>
      messageProcessor({ handler: noop, deadLetter: noop, retryTtlMs: 10_000, hardTimeoutMs: 9_999 }),
    ).not.toThrow();
  });

  it('reports a bad retryTtlMs once, not again as a retryBackoff the caller never gave', () => {
    const noop = () => {};
    expect(() => messageProcessor({ handler: noop, deadLetter: noop, retryTtlMs: -1 })).toThrow(
      expect.objectContaining({ issues: [expect.objectContaining({ option: 'retryTtlMs' })] }),
    );
  });

  it('dead-letters at most once and runs the handler at most maxAttempts times, for any delivery count', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 15 }),
        async (maxAttempts, deliveries) => {
          const deadLetter = vi.fn();
          const handler = vi.fn(() => Promise.reject(lost()));
          const p = messageProcessor<Msg>({ handler, deadLetter, maxAttempts });
          const outcomes: string[] = [];
          for (let i = 0; i < deliveries; i++) outcomes.push((await p.process(msg())).outcome);
          expect(handler).toHaveBeenCalledTimes(Math.min(deliveries, maxAttempts));
          expect(deadLetter).toHaveBeenCalledTimes(deliveries >= maxAttempts ? 1 : 0);
          expect(outcomes.filter((o) => o === 'retry')).toHaveLength(Math.min(deliveries, maxAttempts - 1));
        },
      ),
    );
  });
});
