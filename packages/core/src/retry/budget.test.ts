import { describe, expect, it } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
import { backoff } from './backoff.js';
import { RetryBudget } from './budget.js';
import { retry } from './retry.js';

describe('RetryBudget', () => {
  it('allows the floor of retries per second with no traffic', () => {
    const budget = new RetryBudget({ clock: new FakeClock(), ratio: 0.1, minRetriesPerSecond: 1, windowMs: 10_000 });
    let allowed = 0;
    for (let i = 0; i < 20; i++) if (budget.tryRetry()) allowed++;
    expect(allowed).toBe(10);
    expect(budget.rejected).toBe(10);
  });

  it('allows retries as a share of calls in the window', () => {
    const budget = new RetryBudget({ clock: new FakeClock(), ratio: 0.1, minRetriesPerSecond: 0 });
    for (let i = 0; i < 1_000; i++) budget.recordCall();
    let allowed = 0;
    for (let i = 0; i < 500; i++) if (budget.tryRetry()) allowed++;
    expect(allowed).toBe(100);
  });

  it('counts on a clock that reads before 1970 (a FakeClock started below 0)', () => {
    const budget = new RetryBudget({ clock: new FakeClock(-5_000), ratio: 0.1, minRetriesPerSecond: 0 });
    for (let i = 0; i < 10; i++) budget.recordCall();
    expect([budget.tryRetry(), budget.tryRetry()]).toEqual([true, false]);
  });

  it('forgets calls and retries older than the window', async () => {
    const clock = new FakeClock();
    const budget = new RetryBudget({ clock, ratio: 0.5, minRetriesPerSecond: 0, windowMs: 1_000 });
    for (let i = 0; i < 10; i++) budget.recordCall();
    for (let i = 0; i < 5; i++) expect(budget.tryRetry()).toBe(true);
    expect(budget.tryRetry()).toBe(false);
    await clock.advance(1_000);
    expect(budget.tryRetry()).toBe(false);
    for (let i = 0; i < 2; i++) budget.recordCall();
    expect(budget.tryRetry()).toBe(true);
    expect(budget.tryRetry()).toBe(false);
  });

  it('takes an option given as undefined as its default instead of disabling the limit', () => {
    const unset = { ratio: undefined, minRetriesPerSecond: undefined, windowMs: undefined };
    const budget = new RetryBudget({ clock: new FakeClock(), ...(unset as object) });
    let allowed = 0;
    for (let i = 0; i < 20; i++) if (budget.tryRetry()) allowed++;
    expect(allowed).toBe(10); // the default floor: 1 a second over 10 s
  });

  it("counts on the retry's clock when given as options, with clock: undefined too (a config value not set)", async () => {
    const clock = new FakeClock();
    const budget = { ratio: 0, minRetriesPerSecond: 1, windowMs: 1_000, ...({ clock: undefined } as object) };
    const policy = retry({ clock, maxAttempts: 2, backoff: backoff.constant(0), budget });
    const fail = async () => {
      const call = policy
        .execute(() => Promise.reject(Object.assign(new Error('reset'), { code: 'ECONNRESET' })))
        .catch(() => {}); // caught at once: it may reject while the clock runs
      await clock.runAll();
      await call;
    };
    await fail(); // the one retry of the 1 s window
    await fail();
    expect(policy.stats.giveUps.budget).toBe(1);
    await clock.advance(1_000); // a new window on the retry's clock
    await fail();
    expect(policy.stats.giveUps.budget).toBe(1);
  });

  it('gives back the retry of a caller that left during the wait', async () => {
    const clock = new FakeClock();
    const budget = new RetryBudget({ clock, ratio: 0, minRetriesPerSecond: 1, windowMs: 1_000 });
    const policy = retry({ clock, maxAttempts: 2, backoff: backoff.constant(100), budget });
    const reset = () => Promise.reject(Object.assign(new Error('reset'), { code: 'ECONNRESET' }));
    const caller = new AbortController();
    const left = policy.execute(reset, caller.signal).catch(() => 'left');
    await clock.advance(10);
    caller.abort();
    expect(await left).toBe('left');
    expect(policy.stats).toMatchObject({ attempts: 1, retries: 0, giveUps: { aborted: 1 } });
    let calls = 0;
    const next = policy.execute(() => (++calls === 1 ? reset() : 'ok'));
    await clock.advance(100);
    expect(await next).toBe('ok'); // the window's one retry, not spent by the caller who left
    expect(budget.rejected).toBe(0);
  });

  it('gives a retry back to the step it was taken from, so the window does not hold a debt once that step leaves', async () => {
    const clock = new FakeClock();
    // One retry per 10 s window (steps of 1 s).
    const budget = new RetryBudget({ clock, ratio: 0, minRetriesPerSecond: 0.1, windowMs: 10_000 });
    const policy = retry({ clock, maxAttempts: 2, backoff: backoff.constant(5_000), budget });
    const caller = new AbortController();
    const left = policy.execute(
      () => Promise.reject(Object.assign(new Error('reset'), { code: 'ECONNRESET' })),
      caller.signal,
    );
    await clock.advance(4_500); // the retry was taken at 0 ms; its caller leaves in another step
    caller.abort(new Error('left'));
    await expect(left).rejects.toThrow('left');
    expect([budget.tryRetry(), budget.tryRetry()]).toEqual([true, false]);
    await clock.advance(5_500); // 10 s: the step of the given-back retry has left the window
    expect([budget.tryRetry(), budget.tryRetry()]).toEqual([false, false]); // the one at 4.5 s is still in it
  });

  it('is shared by a retry of another copy of core (an ESM app requiring the CJS entry too)', async () => {
    const copy = (await import('./budget.js?copy' as string)) as typeof import('./budget.js');
    const clock = new FakeClock();
    const budget = new copy.RetryBudget({ clock, ratio: 0, minRetriesPerSecond: 0 });
    expect(budget).not.toBeInstanceOf(RetryBudget); // another copy of the class
    const policy = retry({ clock, maxAttempts: 3, backoff: backoff.constant(0), budget });
    const call = policy.execute(() => Promise.reject(Object.assign(new Error('reset'), { code: 'ECONNRESET' })));
    await expect(call).rejects.toThrow('reset'); // no retry: the budget it was given is spent
    expect(policy.stats.giveUps.budget).toBe(1);
    expect(budget.rejected).toBe(1);
  });

  it('lets a caller leave mid-wait under a budget of an older copy of core, which has no release()', async () => {
    const clock = new FakeClock();
    const budget = { tryRetry: () => true, recordCall() {} } as unknown as RetryBudget;
    const policy = retry({ clock, maxAttempts: 2, backoff: backoff.constant(100), budget });
    const caller = new AbortController();
    const left = policy.execute(
      () => Promise.reject(Object.assign(new Error('reset'), { code: 'ECONNRESET' })),
      caller.signal,
    );
    await clock.advance(10);
    caller.abort(new Error('left'));
    await expect(left).rejects.toThrow('left');
  });

  it('rejects bad options', () => {
    expect(() => new RetryBudget({ ratio: -1 })).toThrow(/ratio/);
    expect(() => new RetryBudget({ windowMs: 0 })).toThrow(/windowMs/);
  });
});
