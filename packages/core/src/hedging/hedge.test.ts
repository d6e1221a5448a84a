import { describe, expect, it } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
import { ConfigurationError } from '../errors/errors.js';
import type { ExecuteContext } from '../policy/policy.js';
import { type HedgeEvent, HedgeLostError, hedge } from './hedge.js';
import { HEDGE_DEFAULTS } from './options.js';

/** A fake dependency: each attempt's outcome is decided by the test. */
function backend() {
  const calls: { signal: AbortSignal; resolve: (v: string) => void; reject: (e: unknown) => void }[] = [];
  const fn = ({ signal }: ExecuteContext) =>
    new Promise<string>((resolve, reject) => {
      calls.push({ signal, resolve, reject });
    });
  return { fn, calls };
}

describe('hedge', () => {
  it('defaults to one hedge', () => {
    expect(HEDGE_DEFAULTS).toEqual({ maxHedges: 1, min: 0, max: Number.POSITIVE_INFINITY, name: 'hedge' });
  });

  it('does not hedge a call that answers before delayMs', async () => {
    const clock = new FakeClock();
    const b = backend();
    const call = hedge({ delayMs: 100, clock }).execute(b.fn);
    await clock.advance(99);
    b.calls[0]?.resolve('fast');
    await expect(call).resolves.toBe('fast');
    await clock.advance(1_000);
    expect(b.calls).toHaveLength(1);
  });

  it('starts another attempt after delayMs; the first success wins and the loser is aborted', async () => {
    const clock = new FakeClock();
    const b = backend();
    const call = hedge({ delayMs: 100, clock }).execute(b.fn);
    await clock.advance(100);
    expect(b.calls).toHaveLength(2);
    b.calls[1]?.resolve('hedge won');
    await expect(call).resolves.toBe('hedge won');
    expect(b.calls[0]?.signal.aborted).toBe(true);
    expect(b.calls[0]?.signal.reason).toBeInstanceOf(HedgeLostError);
    expect(b.calls[1]?.signal.aborted).toBe(false);
  });

  it('starts at most maxHedges extra attempts', async () => {
    const clock = new FakeClock();
    const b = backend();
    const call = hedge({ delayMs: 100, maxHedges: 2, clock }).execute(b.fn);
    await clock.advance(1_000);
    expect(b.calls).toHaveLength(3);
    b.calls[0]?.resolve('slow primary');
    await expect(call).resolves.toBe('slow primary');
    expect(b.calls[1]?.signal.aborted).toBe(true);
    expect(b.calls[2]?.signal.aborted).toBe(true);
  });

  it('a failed attempt starts the next hedge at once', async () => {
    const clock = new FakeClock();
    const b = backend();
    const call = hedge({ delayMs: 100, clock }).execute(b.fn);
    await clock.advance(10);
    b.calls[0]?.reject(new Error('503'));
    await clock.advance(0);
    expect(b.calls).toHaveLength(2);
    b.calls[1]?.resolve('ok');
    await expect(call).resolves.toBe('ok');
    expect(clock.now()).toBe(10);
  });

  it('fails over only on errors handle accepts: another one is the answer, no more hedges and the others lose', async () => {
    const clock = new FakeClock();
    const b = backend();
    const badRequest = Object.assign(new Error('400'), { status: 400 });
    const policy = hedge({
      delayMs: 100,
      maxHedges: 2,
      clock,
      handle: (e) => (e as { status?: number }).status !== 400,
    });
    const events: HedgeEvent[] = [];
    policy.onEvent((e) => events.push(e));
    // A 503 is worth failing over: the next attempt starts at once.
    const failedOver = policy.execute(b.fn);
    b.calls[0]?.reject(Object.assign(new Error('503'), { status: 503 }));
    await clock.advance(0);
    expect(b.calls).toHaveLength(2);
    b.calls[1]?.resolve('ok');
    await expect(failedOver).resolves.toBe('ok');
    // A 400 would fail the same way again: the call rejects with it, the hedge in flight is aborted.
    const answered = policy.execute(b.fn).catch((e: unknown) => e);
    await clock.advance(100);
    expect(b.calls).toHaveLength(4);
    b.calls[3]?.reject(badRequest);
    expect(await answered).toBe(badRequest);
    expect(b.calls[2]?.signal.reason).toBeInstanceOf(HedgeLostError);
    await clock.advance(1_000);
    expect(b.calls).toHaveLength(4);
    expect(events.at(-1)).toEqual({ type: 'settled', policy: 'hedge', winner: 0, attempts: 2 });
    // A handle that throws or answers anything but true does not fail over either.
    const throwing = hedge({
      delayMs: 100,
      clock,
      handle: () => {
        throw new Error('bug');
      },
    })
      .execute(b.fn)
      .catch((e: unknown) => e);
    b.calls[4]?.reject(badRequest);
    expect(await throwing).toBe(badRequest);
    expect(b.calls).toHaveLength(5);
  });

  it('refuses a handle that is no function, or async', () => {
    expect(() => hedge({ delayMs: 100, handle: 'all' as never })).toThrow(
      /handle: received "all", expected a function/,
    );
    expect(() => hedge({ delayMs: 100, handle: (async () => true) as never })).toThrow(ConfigurationError);
  });

  it('rejects with the error of the attempt that failed last when all fail', async () => {
    const clock = new FakeClock();
    const b = backend();
    const call = hedge({ delayMs: 100, clock })
      .execute(b.fn)
      .catch((e: unknown) => e);
    await clock.advance(100);
    b.calls[1]?.reject(new Error('second'));
    await clock.advance(0);
    b.calls[0]?.reject(new Error('first, but last to fail'));
    expect(((await call) as Error).message).toBe('first, but last to fail');
  });

  it('rejects the call (never throws synchronously) when its delayMs function throws', async () => {
    const broken = new Error('p95 unavailable');
    const policy = hedge({
      delayMs: () => {
        throw broken;
      },
      clock: new FakeClock(),
    });
    let outcome: Promise<unknown> | undefined;
    expect(() => {
      outcome = policy.execute(() => 'a');
    }).not.toThrow();
    await expect(outcome).rejects.toBe(broken);
  });

  it('takes delayMs from a function at each call; a non-finite value disables hedging', async () => {
    const clock = new FakeClock();
    let p95 = Number.NaN;
    const policy = hedge({ delayMs: () => p95, clock });
    const b = backend();
    const first = policy.execute(b.fn);
    await clock.advance(10_000);
    expect(b.calls).toHaveLength(1);
    b.calls[0]?.resolve('a');
    await first;
    p95 = 50;
    const second = policy.execute(b.fn);
    await clock.advance(50);
    expect(b.calls).toHaveLength(3);
    b.calls[2]?.resolve('b');
    await expect(second).resolves.toBe('b');
  });

  it('starts no hedge once the caller has aborted', async () => {
    const clock = new FakeClock();
    const caller = new AbortController();
    const calls: AbortSignal[] = [];
    const call = hedge({ delayMs: 100, clock }).execute(({ signal }) => {
      calls.push(signal);
      return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
    }, caller.signal);
    caller.abort(new Error('caller left'));
    await expect(call).rejects.toThrow('caller left');
    await clock.advance(1_000);
    expect(calls).toHaveLength(1);
  });

  it("reports 'hedge' and 'settled' events", async () => {
    const clock = new FakeClock();
    const b = backend();
    const policy = hedge({ delayMs: 100, name: 'search', clock });
    const events: HedgeEvent[] = [];
    policy.onEvent((e) => events.push(e));
    const call = policy.execute(b.fn);
    await clock.advance(100);
    b.calls[1]?.resolve('x');
    await call;
    expect(events).toEqual([
      { type: 'hedge', policy: 'search', attempt: 2 },
      { type: 'settled', policy: 'search', winner: 2, attempts: 2 },
    ]);
  });

  it('rejects invalid options naming each one', () => {
    try {
      hedge({ delayMs: -1, maxHedges: 1.5, name: '' });
      throw new Error('no error');
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigurationError);
      expect((e as ConfigurationError).issues.map((i) => i.option)).toEqual(['delayMs', 'maxHedges', 'name']);
    }
    expect(() => hedge({} as never)).toThrow(ConfigurationError);
  });
});
