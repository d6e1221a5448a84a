import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
import { fallback } from '../fallback/fallback.js';
import { backoff } from '../retry/backoff.js';
import { retry } from '../retry/retry.js';
import { timeout } from '../timeout/timeout.js';
import { pipeline } from './pipeline.js';

type Layer =
  | { kind: 'timeout'; ms: number; strategy: 'aggressive' | 'cooperative' | 'soft' }
  | { kind: 'retry'; attempts: number; delayMs: number }
  | { kind: 'fallback' };
interface Attempt {
  readonly ms: number;
  readonly ok: boolean;
  /** Whether the function stops at its signal (else it runs on, ignored, until `ms`). */
  readonly honours: boolean;
}

const layerArb: fc.Arbitrary<Layer> = fc.oneof(
  fc.record({
    kind: fc.constant('timeout' as const),
    ms: fc.integer({ min: 1, max: 300 }),
    // `soft`: { softMs: ms, hardMs: ms + 50 }.
    strategy: fc.constantFrom('aggressive' as const, 'cooperative' as const, 'soft' as const),
  }),
  fc.record({
    kind: fc.constant('retry' as const),
    attempts: fc.integer({ min: 1, max: 4 }),
    delayMs: fc.integer({ min: 0, max: 100 }),
  }),
  fc.constant({ kind: 'fallback' as const }),
);

interface Outcome {
  end: number;
  ok: boolean;
  value?: string;
}

/**
 * The layers written out plainly, outermost first: what the pipeline gives and when, and each
 * attempt's window (when its signal aborts: an enclosing timeout's deadline or the caller's
 * cancel). Only a timeout answers at once; the other layers wait for what they wrap. `tie` is
 * set when two events would fall on one instant (their order is the clock's, not the policies').
 */
function model(layers: Layer[], attempts: Attempt[], cancelAt: number) {
  let count = 0;
  let tie = false;
  const windows: { start: number; deadline: number }[] = [];
  const at = (a: number, b: number) => {
    if (a === b && Number.isFinite(a)) tie = true;
  };
  // Every limit's instant, and every instant something ends: two on one instant are a tie.
  const limits = new Set<number>([cancelAt]);
  const ends: number[] = [];
  // `awaited`: the first abort of this level's signal is a limit that still waits for the work
  // (a cooperative timeout's, a soft limit's): a fallback inside still substitutes, until a
  // limit that answers at once, or the caller's cancel, comes (`firmAt`): nobody would get it.
  const run = (i: number, start: number, abortAt: number, awaited = false, firmAt = cancelAt): Outcome => {
    const layer = layers[i];
    if (!layer) {
      const a = attempts[count++] ?? { ms: 10, ok: true, honours: true };
      windows.push({ start, deadline: abortAt });
      const end = start + a.ms;
      ends.push(end);
      at(end, abortAt);
      if (a.honours && abortAt < end) return { end: abortAt, ok: false };
      return a.ok ? { end, ok: true, value: 'fn' } : { end, ok: false };
    }
    if (layer.kind === 'timeout') {
      const own = start + layer.ms;
      limits.add(own).add(own + 50);
      at(abortAt, own);
      const firm = Math.min(
        firmAt,
        layer.strategy === 'aggressive' ? own : layer.strategy === 'soft' ? own + 50 : firmAt,
      );
      const r = run(
        i + 1,
        start,
        Math.min(abortAt, own),
        own < abortAt ? layer.strategy !== 'aggressive' : awaited,
        firm,
      );
      if (layer.strategy === 'cooperative') {
        // Waits for the function: a failure after its signal aborted is a TimeoutError, a value a value.
        return r;
      }
      // Aggressive: answers at its limit or the caller's cancel. Soft: at the hard limit or the cancel.
      const stop = layer.strategy === 'soft' ? Math.min(abortAt, own + 50) : Math.min(abortAt, own);
      at(r.end, stop);
      return r.end > stop ? { end: stop, ok: false } : r;
    }
    if (layer.kind === 'fallback') {
      const r = run(i + 1, start, abortAt, awaited, firmAt);
      at(r.end, abortAt);
      return !r.ok && (r.end < abortAt || (awaited && r.end < firmAt))
        ? { end: r.end, ok: true, value: 'fallback' }
        : r;
    }
    let t = start;
    for (let k = 0; ; k++) {
      const r = run(i + 1, t, abortAt, awaited, firmAt);
      at(r.end, abortAt);
      if (r.ok || k === layer.attempts - 1 || r.end > abortAt) return r;
      t = r.end + layer.delayMs;
      ends.push(t);
      at(t, abortAt);
      if (t > abortAt) return { end: abortAt, ok: false };
    }
  };
  const outcome = run(0, 0, cancelAt);
  if (ends.some((end) => limits.has(end))) tie = true;
  return { outcome, count, tie, windows };
}

describe('pipeline of timeout, retry and fallback (property)', () => {
  it("in any order, answers what and when the layers say, starts no attempt past a deadline, aborts what it leaves, and leaves no timer but a timeout's shared one", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(layerArb, { minLength: 1, maxLength: 4, selector: (l) => l.kind }),
        fc.array(fc.record({ ms: fc.integer({ min: 0, max: 200 }), ok: fc.boolean(), honours: fc.boolean() }), {
          maxLength: 6,
        }),
        fc.option(fc.integer({ min: 0, max: 600 }), { nil: undefined }),
        async (layers, attempts, cancel) => {
          const expected = model(layers, attempts, cancel ?? Number.POSITIVE_INFINITY);
          fc.pre(!expected.tie);
          const clock = new FakeClock();
          const policy = pipeline(
            ...layers.map((l) =>
              l.kind === 'timeout'
                ? l.strategy === 'soft'
                  ? timeout({ softMs: l.ms, hardMs: l.ms + 50, clock })
                  : timeout(l.ms, { strategy: l.strategy, clock })
                : l.kind === 'retry'
                  ? retry({ maxAttempts: l.attempts, backoff: backoff.constant(l.delayMs), handle: () => true, clock })
                  : fallback('fallback'),
            ),
          );
          const signals: AbortSignal[] = [];
          const abortedAt: number[] = [];
          let settled: { at: number; ok: boolean; value?: unknown } | undefined;
          const caller = new AbortController();
          if (cancel !== undefined) clock.setTimeout(() => caller.abort(new Error('cancelled')), cancel);
          // Once it settled, no timer is left but the caller's and those of functions that ignore their signal.
          const leftAt = (at: number) =>
            (cancel !== undefined && cancel > at ? 1 : 0) +
            expected.windows.filter((w, k) => {
              const a = attempts[k] ?? { ms: 10, honours: true };
              return !a.honours && w.start + a.ms > at;
            }).length;
          let timersLeft: [number, number] | undefined;
          policy
            .execute(({ signal }) => {
              const a = attempts[signals.length] ?? { ms: 10, ok: true, honours: true };
              const k = signals.length;
              signals.push(signal);
              if (signal.aborted) abortedAt[k] = clock.now();
              else signal.addEventListener('abort', () => (abortedAt[k] = clock.now()), { once: true });
              return clock.sleep(a.ms, a.honours ? signal : undefined).then(() => {
                if (!a.ok) throw new Error('boom');
                return 'fn';
              });
            }, caller.signal)
            .then(
              (value) => {
                settled = { at: clock.now(), ok: true, value };
                timersLeft = [clock.pendingTimers, leftAt(clock.now())];
              },
              () => {
                settled = { at: clock.now(), ok: false };
                timersLeft = [clock.pendingTimers, leftAt(clock.now())];
              },
            );
          await clock.runAll();
          expect(signals.length, 'attempts').toBe(expected.count);
          expect(settled).toEqual(
            expected.outcome.ok
              ? { at: expected.outcome.end, ok: true, value: expected.outcome.value }
              : { at: expected.outcome.end, ok: false },
          );
          // A timeout's one shared timer may stay armed (unref'd) until its last deadline: see docs/timeout.md.
          // (A soft/hard pair has one for each limit.)
          const timeouts = layers.reduce((n, l) => n + (l.kind === 'timeout' ? (l.strategy === 'soft' ? 2 : 1) : 0), 0);
          expect(timersLeft![0] - timersLeft![1], 'timers left once it settled').toBeGreaterThanOrEqual(0);
          expect(timersLeft![0] - timersLeft![1], 'timers left once it settled').toBeLessThanOrEqual(timeouts);
          expect(clock.pendingTimers).toBe(0);
          // An attempt cut by a deadline sees its signal abort then; one that ends first, not before it ended.
          expected.windows.forEach((w, k) => {
            const end = w.start + (attempts[k] ?? { ms: 10 }).ms;
            if (end > w.deadline) expect(abortedAt[k], `attempt ${k}'s signal`).toBe(w.deadline);
            else expect(abortedAt[k] ?? Number.POSITIVE_INFINITY, `attempt ${k}'s signal`).toBeGreaterThan(end);
          });
        },
      ),
      { numRuns: 400 },
    );
  });
});
