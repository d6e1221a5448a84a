import { describe, expect, it } from 'vitest';
import { bulkhead } from '../bulkhead/bulkhead.js';
import { CoarseClock } from '../clock/coarse-clock.js';
import { FakeClock } from '../clock/fake-clock.js';
import { isBulkheadRejectedError, TimeoutError } from '../errors/errors.js';
import { hedge } from '../hedging/hedge.js';
import { steppingClock } from '../testing/stepping-clock.js';
import { timeout } from './timeout.js';

const HOUR = 3_600_000;
const never = () => new Promise<never>(() => {});
/** Whether `p` has settled, without waiting for it. */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  void p.then(
    () => (done = true),
    () => (done = true),
  );
  await new Promise<void>((resolve) => setImmediate(resolve));
  return done;
}

// A wall clock stepped back (an NTP correction, a VM resumed) while calls wait: their timers
// measure real time, so the calls in flight end on time, not an hour late.
describe('deadlines in flight when the clock steps back', () => {
  it('a timeout fires after its ms', async () => {
    const { clock, advance, step } = steppingClock();
    const policy = timeout(1_000, { clock, strategy: 'aggressive' });
    const call = policy.execute(never);
    call.catch(() => {});
    await advance(500);
    step(-HOUR);
    await advance(500);
    expect(await settled(call)).toBe(true);
    await expect(call).rejects.toBeInstanceOf(TimeoutError);
  });

  it('calls started after the step are timed right, and those before it still end on time', async () => {
    const { clock, advance, step } = steppingClock();
    const policy = timeout(1_000, { clock, strategy: 'aggressive' });
    const early = policy.execute(never);
    await advance(500);
    const before = policy.execute(never); // the queue's last reading before the step
    step(-HOUR);
    const after = policy.execute(never);
    for (const p of [early, before, after]) p.catch(() => {});
    await advance(500);
    expect([await settled(early), await settled(before), await settled(after)]).toEqual([true, false, false]);
    await advance(500);
    expect([await settled(before), await settled(after)]).toEqual([true, true]);
    await expect(after).rejects.toBeInstanceOf(TimeoutError);
  });

  it('a hedge starts after its delayMs', async () => {
    const { clock, advance, step } = steppingClock();
    let attempts = 0;
    const policy = hedge({ delayMs: 100, maxHedges: 1, clock });
    const call = policy.execute(() => {
      attempts++;
      return never();
    });
    call.catch(() => {});
    await advance(50);
    step(-HOUR);
    await advance(50);
    expect(attempts).toBe(2);
  });

  it('a bulkhead waiter leaves after its maxQueueMs', async () => {
    const { clock, advance, step } = steppingClock();
    const policy = bulkhead({ limit: 1, queue: 1, maxQueueMs: 1_000, clock });
    void policy.execute(never);
    const waiting = policy.execute(() => 'ran');
    waiting.catch(() => {});
    await advance(500);
    step(-HOUR);
    await advance(500);
    expect(await settled(waiting)).toBe(true);
    await expect(waiting).rejects.toSatisfy(isBulkheadRejectedError);
  });

  it('bulkhead waiters queued after the step leave after their own maxQueueMs', async () => {
    const { clock, advance, step } = steppingClock();
    const policy = bulkhead({ limit: 1, queue: 3, maxQueueMs: 1_000, clock });
    void policy.execute(never);
    const early = policy.execute(() => 'ran');
    await advance(500);
    const before = policy.execute(() => 'ran');
    step(-HOUR);
    const after = policy.execute(() => 'ran');
    for (const p of [early, before, after]) p.catch(() => {});
    await advance(500);
    expect([await settled(early), await settled(before), await settled(after)]).toEqual([true, false, false]);
    await advance(500);
    expect([await settled(before), await settled(after)]).toEqual([true, true]);
    await expect(after).rejects.toSatisfy(isBulkheadRejectedError);
  });

  it('a call queued between a jump forward and its correction ends within the bound, corrected fully or in part', async () => {
    for (const correction of [10_000, 9_500]) {
      const { clock, advance, step } = steppingClock();
      const timed = timeout(1_000, { clock, strategy: 'aggressive' });
      timed.execute(never).catch(() => {}); // arms the shared timer for real 1 000
      const queued = bulkhead({ limit: 1, queue: 2, maxQueueMs: 1_000, clock });
      void queued.execute(never);
      queued.execute(() => 'ran').catch(() => {});
      await advance(100);
      step(10_000); // a bad sample
      await advance(100);
      const calls = [timed.execute(never), queued.execute(() => 'ran')]; // real 200: each should end by real 1 200
      for (const p of calls) p.catch(() => {});
      await advance(100);
      step(-correction); // undone before the next reading: the timers' firing finds it
      // Late by at most the time since the last reading (real 200) when the step is found (real 1 000).
      await advance(1_700);
      expect(await Promise.all(calls.map(settled))).toEqual([true, true]);
    }
  });

  // A timer armed at real 0 (due at 1 000); a first step back; a call of 1 000 ms; a second step
  // back, found when the timer fires at real 1 000. The call must not end before its own ms.
  it.each<[string, { at: number; first: number; gap: number; second: number; endsBy?: number }]>([
    // the first step unseen: the next reading is still later than the last
    ['after a step back no reading saw', { at: 900, first: -800, gap: 50, second: -300, endsBy: 200 }],
    // the call's reading equals the one the timer was armed at: it is a reading since all the same
    ['at a reading equal to the one the timer was armed at', { at: 300, first: -300, gap: 100, second: -800 }],
  ])('a call started %s ends no earlier than its ms when a second step is found', async (_, t) => {
    const { clock, advance, step } = steppingClock();
    const policy = timeout(1_000, { clock, strategy: 'aggressive' });
    policy.execute(never).catch(() => {});
    await advance(t.at);
    step(t.first);
    const later = policy.execute(never); // due at real t.at + 1 000
    later.catch(() => {});
    await advance(t.gap);
    step(t.second);
    await advance(1_000 - t.gap - 1);
    expect(await settled(later)).toBe(false);
    if (t.endsBy === undefined) return;
    await advance(t.endsBy);
    expect(await settled(later)).toBe(true);
  });

  it('a clock that reads a little behind its timers (CoarseClock) is no step: no call ends early', async () => {
    const fake = new FakeClock(0);
    const clock = new CoarseClock(fake, 10);
    const timed = timeout(1_000, { clock, strategy: 'aggressive' });
    const queued = bulkhead({ limit: 1, queue: 10_000, maxQueueMs: 1_000, clock });
    void queued.execute(never);
    const lived: number[] = [];
    for (let t = 0; t < 3_000; t += 3) {
      const start = fake.now();
      const ended = () => lived.push(fake.now() - start);
      timed.execute(never).catch(ended);
      queued.execute(() => 1).catch(ended);
      await fake.advance(3);
    }
    await fake.advance(2_000);
    expect(lived).toHaveLength(2_000);
    expect(Math.min(...lived)).toBeGreaterThanOrEqual(1_000);
  });
});
