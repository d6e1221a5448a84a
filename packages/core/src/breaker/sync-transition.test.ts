import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { BreakerSnapshot } from './options.js';
import { consecutive, countWindow } from './strategy.js';
import { breakerSyncTransition } from './sync-transition.js';
import { Tally } from './tally.js';
import { timeWindow } from './time-window.js';
import { breakerTransition } from './transition.js';

/** A tally of `outcomes` (true: failed), none slow. */
function tallyOf(outcomes: readonly boolean[], slow: readonly boolean[] = []) {
  const t = new Tally();
  for (const [i, failed] of outcomes.entries()) t.record(failed, slow[i] === true);
  return t.snapshot();
}

describe('Tally', () => {
  it('counts the four kinds of outcome and the runs of failures', () => {
    const t = new Tally();
    expect([t.empty, t.snapshot()]).toEqual([true, null]);
    for (const [failed, slow] of [
      [true, false],
      [false, false],
      [true, true],
      [true, false],
      [true, false],
      [false, true],
      [true, false],
    ] as const) {
      t.record(failed, slow);
    }
    expect(t.take()).toEqual({
      successes: 1,
      slowSuccesses: 1,
      failures: 4,
      slowFailures: 1,
      leading: 1,
      longestRun: 3,
      trailing: 1,
    });
    expect(t.empty).toBe(true);
  });
});

describe('window.merge(tally)', () => {
  it('consecutive: opens exactly when recording the same outcomes one by one would, and keeps the count otherwise', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 0, max: 4 }),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 20 }),
        (threshold, before, outcomes) => {
          fc.pre(before < threshold);
          const strategy = consecutive(threshold);
          const snapshot = { kind: 'consecutive', failures: before } as const;
          const one = strategy.createWindow(snapshot);
          const tripped = outcomes.some((failed) => one.record(failed, false, 0));
          const merged = strategy.createWindow(snapshot);
          expect(merged.merge(tallyOf(outcomes)!, 0)).toBe(tripped);
          if (!tripped) expect(merged.snapshot()).toEqual(one.snapshot());
        },
      ),
    );
  });

  it('count window: appends successes, then failures, keeping the last size of them', () => {
    const strategy = countWindow({ size: 4, failureRate: 0.5, minimumCalls: 4 });
    const twoOk = () => {
      const w = strategy.createWindow();
      w.record(false, false, 0);
      w.record(false, false, 0);
      return w;
    };
    const a = twoOk();
    expect(a.merge(tallyOf([true, false])!, 0)).toBe(false); // ok ok | ok fail: 1 of 4
    expect(a.snapshot()).toMatchObject({ filled: 4, next: 0, bits: [0b1000, 0] });
    expect(twoOk().merge(tallyOf([true, true])!, 0)).toBe(true); // ok ok | fail fail: 2 of 4
    // 12 outcomes: only the last 4 of ok×10, fail×2 stay: ok ok fail fail.
    const many = strategy.createWindow();
    expect(many.merge(tallyOf([...Array(10).fill(false), true, true])!, 0)).toBe(true);
  });

  it('count window: slow calls count in the slow rate', () => {
    const strategy = countWindow({ size: 4, failureRate: 1, minimumCalls: 2, slowCallMs: 100, slowCallRate: 0.5 });
    expect(strategy.createWindow().merge(tallyOf([false, false], [false, true])!, 0)).toBe(true);
  });

  it('time window: the tally counts in the bucket of the synchronisation', () => {
    const strategy = timeWindow({ windowMs: 1_000, buckets: 4, failureRate: 0.5, minimumCalls: 4 });
    const w = strategy.createWindow();
    expect(w.merge(tallyOf([false, false, true])!, 600)).toBe(false);
    expect(w.snapshot()).toMatchObject({ epochs: [-1, -1, 2, -1], counts: [0, 0, 0, 0, 0, 0, 3, 1, 0, 0, 0, 0] });
    expect(w.merge(tallyOf([true])!, 700)).toBe(true); // 2 of 4 in the window
  });
});

describe('breakerSyncTransition', () => {
  const options = { strategy: consecutive(3), halfOpenAfter: 1_000 };
  const sync = breakerSyncTransition(options);
  const steps = breakerTransition(options);

  it('is named for its strategy, with the params of breakerTransition', () => {
    expect(sync.name).toBe('breaker.consecutive.sync');
    expect(sync.params).toEqual(steps.params);
    expect(breakerSyncTransition({ strategy: countWindow({ size: 3, failureRate: 1 }) }).name).toBe(
      'breaker.count-window.sync',
    );
  });

  it('merges a tally into the shared window and reads it back; opens when the window trips', () => {
    const first = sync.apply(undefined, { tally: tallyOf([true, true]), round: 0 }, 5);
    expect(first.write).toBe(true);
    expect(first.output).toEqual({
      state: 'closed',
      round: 0,
      retryAfterMs: 0,
      window: { kind: 'consecutive', failures: 2 },
      now: 5,
      changed: false,
    });
    const opened = sync.apply(first.state, { tally: tallyOf([true]), round: 0 }, 10);
    expect(opened.output).toMatchObject({ state: 'open', round: 1, retryAfterMs: 1_000, changed: true });
    // The same state as the outcomes settled one by one.
    let state: BreakerSnapshot | undefined;
    for (const at of [5, 5, 10]) state = steps.apply(state, { type: 'settle', outcome: 'failure' }, at).state;
    expect(opened.state).toEqual(state);
  });

  it('writes nothing for a read, a stale round, or a breaker that is not closed', () => {
    const closed = sync.apply(undefined, { tally: tallyOf([true]) }, 0).state;
    expect(sync.apply(closed, { tally: null }, 1)).toMatchObject({
      write: false,
      output: { state: 'closed', window: { failures: 1 } },
    });
    expect(sync.apply(closed, { tally: tallyOf([true, true]), round: 7 }, 1)).toMatchObject({
      write: false,
      output: { state: 'closed', window: { failures: 1 }, changed: false },
    });
    const isolated = steps.apply(closed, { type: 'isolate' }, 2).state;
    expect(sync.apply(isolated, { tally: tallyOf([true, true, true]) }, 3)).toMatchObject({
      write: false,
      output: { state: 'isolated', retryAfterMs: null },
    });
  });

  it('leaves an open breaker due for a probe open: only an acquire takes the probe', () => {
    const open = sync.apply(undefined, { tally: tallyOf([true, true, true]) }, 0).state;
    expect(sync.apply(open, { tally: null }, 5_000).output).toMatchObject({ state: 'open', retryAfterMs: 0 });
  });
});
