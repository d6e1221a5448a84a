import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../errors/errors.js';
import { consecutive, countWindow } from './strategy.js';
import { timeWindow } from './time-window.js';

/** The reference model: failure rate over the last `size` outcomes. */
function modelTrips(
  outcomes: Array<{ failed: boolean; slow: boolean }>,
  o: { size: number; ratePct: number; minimumCalls: number; slowPct: number },
) {
  const last = outcomes.slice(-o.size);
  const calls = last.length;
  if (calls < o.minimumCalls) return false;
  const failures = last.filter((x) => x.failed).length;
  const slow = last.filter((x) => x.slow).length;
  // exact integer arithmetic, so the model has no rounding of its own
  return failures * 100 >= o.ratePct * calls || slow * 100 >= o.slowPct * calls;
}

describe('consecutive', () => {
  it('trips on the n-th failure in a row', () => {
    const w = consecutive(2).createWindow();
    expect(w.record(true, false, 0)).toBe(false);
    expect(w.record(false, false, 0)).toBe(false);
    expect(w.record(true, false, 0)).toBe(false);
    expect(w.record(true, false, 0)).toBe(true);
  });

  it('rejects a threshold below one', () => {
    expect(() => consecutive(0)).toThrow(ConfigurationError);
    expect(() => consecutive(1.5)).toThrow(/threshold/);
  });
});

describe('countWindow', () => {
  it('opens when half of the last 4 calls failed, once 4 calls are in', () => {
    const w = countWindow({ size: 4, failureRate: 0.5, minimumCalls: 4 }).createWindow();
    expect(w.record(true, false, 0)).toBe(false);
    expect(w.record(true, false, 0)).toBe(false); // 2 of 2, but below minimumCalls
    expect(w.record(false, false, 0)).toBe(false);
    expect(w.record(false, false, 0)).toBe(false); // decides only on a failure
    w.reset();
    for (const failed of [false, false, true]) w.record(failed, false, 0);
    expect(w.record(true, false, 0)).toBe(true); // 2 of 4
  });

  it('forgets outcomes older than size calls', () => {
    const w = countWindow({ size: 3, failureRate: 0.6, minimumCalls: 3 }).createWindow();
    w.record(true, false, 0);
    w.record(false, false, 0);
    w.record(false, false, 0);
    expect(w.record(true, false, 0)).toBe(false); // the first failure slid out: 1 of 3
    expect(w.record(true, false, 0)).toBe(true); // 2 of 3
  });

  it('opens on the slow-call rate', () => {
    const w = countWindow({
      size: 4,
      failureRate: 1,
      minimumCalls: 2,
      slowCallMs: 100,
      slowCallRate: 0.5,
    }).createWindow();
    expect(w.record(false, false, 0)).toBe(false);
    expect(w.record(false, true, 0)).toBe(true);
  });

  it('matches the reference model on any sequence (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 70 }),
        fc.integer({ min: 1, max: 100 }),
        fc.integer({ min: 1, max: 20 }),
        fc.array(fc.record({ failed: fc.boolean(), slow: fc.boolean() }), { maxLength: 300 }),
        (size, ratePct, minCalls, outcomes) => {
          const minimumCalls = Math.min(minCalls, size);
          const o = { size, failureRate: ratePct / 100, minimumCalls, slowCallMs: 10, slowCallRate: 0.07 };
          const w = countWindow(o).createWindow();
          const seen: typeof outcomes = [];
          for (const x of outcomes) {
            seen.push(x);
            const tripped = w.record(x.failed, x.slow, 0);
            expect(tripped).toBe((x.failed || x.slow) && modelTrips(seen, { size, ratePct, minimumCalls, slowPct: 7 }));
          }
          const restored = countWindow(o).createWindow(JSON.parse(JSON.stringify(w.snapshot())));
          expect(restored.snapshot()).toEqual(w.snapshot());
          expect(restored.record(true, false, 0)).toBe(w.record(true, false, 0));
        },
      ),
    );
  });

  it('never trips below minimumCalls (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 50 }), fc.array(fc.boolean(), { maxLength: 49 }), (minimumCalls, fails) => {
        const w = countWindow({ size: 50, failureRate: 0.01, minimumCalls }).createWindow();
        fails.slice(0, minimumCalls - 1).forEach((f) => {
          expect(w.record(f, f, 0)).toBe(false);
        });
      }),
    );
  });

  it('validates its options, naming each', () => {
    try {
      countWindow({ size: 0, failureRate: 50, minimumCalls: -1, slowCallRate: 0.5 });
      expect.unreachable();
    } catch (e) {
      expect((e as ConfigurationError).issues.map((i) => i.option)).toEqual([
        'size',
        'failureRate',
        'minimumCalls',
        'slowCallRate',
      ]);
    }
    expect(() => countWindow({ size: 10, failureRate: 0.5, minimumCalls: 11 })).toThrow(/minimumCalls/);
  });

  it('refuses a snapshot of another shape', () => {
    const a = countWindow({ size: 10, failureRate: 0.5 });
    const b = countWindow({ size: 20, failureRate: 0.5 });
    expect(() => b.createWindow(a.createWindow().snapshot())).toThrow(/initialState.window/);
    expect(() => a.createWindow(consecutive(3).createWindow().snapshot())).toThrow(ConfigurationError);
  });
});

describe('timeWindow', () => {
  const o = { windowMs: 1_000, buckets: 10, failureRate: 0.5, minimumCalls: 4 };

  it('opens on the failure rate of the calls in the last windowMs', () => {
    const w = timeWindow(o).createWindow();
    w.record(false, false, 0);
    w.record(false, false, 50);
    w.record(true, false, 100);
    expect(w.record(true, false, 150)).toBe(true); // 2 of 4
  });

  it('forgets buckets that slid out of the window', () => {
    const w = timeWindow(o).createWindow();
    w.record(true, false, 0);
    w.record(true, false, 0);
    w.record(false, false, 900);
    w.record(false, false, 950);
    w.record(false, false, 1_050);
    // the two failures at t=0 left the window at t=1000: 1 failure of 4 calls
    expect(w.record(true, false, 1_060)).toBe(false);
  });

  it('ignores a bucket reused after a long pause', () => {
    const w = timeWindow(o).createWindow();
    for (let i = 0; i < 4; i++) w.record(false, false, 0);
    // 10 s later the same ring slot is reused: old counts are dropped
    w.record(true, false, 10_000);
    w.record(true, false, 10_000);
    w.record(false, false, 10_000);
    expect(w.record(true, false, 10_000)).toBe(true);
  });

  it('never trips below minimumCalls and round-trips its snapshot (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ failed: fc.boolean(), dt: fc.integer({ min: 0, max: 400 }) }), { maxLength: 100 }),
        (steps) => {
          const w = timeWindow(o).createWindow();
          let now = 0;
          const times: Array<{ t: number; failed: boolean }> = [];
          for (const s of steps) {
            now += s.dt;
            times.push({ t: now, failed: s.failed });
            const tripped = w.record(s.failed, false, now);
            // the calls whose bucket is still in the window
            const epoch = Math.floor(now / 100);
            const inWindow = times.filter((x) => Math.floor(x.t / 100) > epoch - 10);
            const failures = inWindow.filter((x) => x.failed).length;
            const expected = s.failed && inWindow.length >= 4 && failures >= 0.5 * inWindow.length;
            expect(tripped).toBe(expected);
          }
          const restored = timeWindow(o).createWindow(JSON.parse(JSON.stringify(w.snapshot())));
          expect(restored.record(true, false, now)).toBe(w.record(true, false, now));
        },
      ),
    );
  });

  it('works at negative times (a fake clock may start anywhere)', () => {
    const w = timeWindow(o).createWindow();
    w.record(false, false, -5_000);
    w.record(false, false, -4_900);
    w.record(true, false, -4_800);
    expect(w.record(true, false, -4_700)).toBe(true); // four buckets, 2 of 4 failed
  });

  it('refuses a snapshot of another shape', () => {
    const other = timeWindow({ ...o, buckets: 5 })
      .createWindow()
      .snapshot();
    expect(() => timeWindow(o).createWindow(other)).toThrow(/initialState.window/);
  });

  it('validates its options', () => {
    expect(() => timeWindow({ windowMs: 0, buckets: 0, failureRate: 0 })).toThrow(/windowMs.*buckets.*failureRate/);
    expect(timeWindow({ windowMs: 1_000, failureRate: 0.5 }).createWindow().snapshot()).toMatchObject({ buckets: 10 });
  });
});
