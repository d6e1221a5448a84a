import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
import { health } from './health.js';
import type { HealthCheckStatus, HealthStatus } from './options.js';

const outcome = fc.constantFrom<HealthCheckStatus>('pass', 'warn', 'fail');
// Options left out take the defaults, which the model spells out (`critical: false`, `failureThreshold: 1`).
const spec = fc.record(
  { critical: fc.boolean(), failureThreshold: fc.integer({ min: 1, max: 4 }) },
  { requiredKeys: [] },
);

/**
 * The status rules written out plainly, over each check's history of outcomes (the
 * CrossStack seed's): a check is down once it has failed `failureThreshold` times in a row;
 * every check down, or a critical one down, is `unhealthy`; anything short of all passing
 * is `degraded`.
 */
function model(
  checks: { critical?: boolean; failureThreshold?: number }[],
  histories: HealthCheckStatus[][],
  run: number,
): HealthStatus {
  const down = checks.map((check, c) => {
    let streak = 0;
    for (let r = 0; r <= run; r++) streak = histories[r]![c] === 'fail' ? streak + 1 : 0;
    return streak >= (check.failureThreshold ?? 1);
  });
  if (down.every(Boolean) || checks.some((check, c) => check.critical === true && down[c])) return 'unhealthy';
  return histories[run]!.every((now) => now === 'pass') ? 'healthy' : 'degraded';
}

describe('health status (property)', () => {
  it('matches the written rules for any checks and any sequence of outcomes', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(spec, { minLength: 1, maxLength: 4 }).chain((checks) =>
          fc.tuple(
            fc.constant(checks),
            fc.array(fc.array(outcome, { minLength: checks.length, maxLength: checks.length }), {
              minLength: 1,
              maxLength: 8,
            }),
          ),
        ),
        async ([checks, histories]) => {
          let run = 0;
          const probes = health({ clock: new FakeClock() });
          checks.forEach((options, c) => {
            probes.register(
              `c${c}`,
              () => {
                const now = histories[run]![c];
                return now === 'fail' ? false : now === 'warn' ? 'warn' : true;
              },
              options,
            );
          });
          for (run = 0; run < histories.length; run++) {
            const report = await probes.run();
            expect(report.status).toBe(model(checks, histories, run));
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

type Behaviour =
  | { kind: 'value'; value: unknown; status: HealthCheckStatus }
  | { kind: 'throw' | 'reject' | 'hang' }
  | { kind: 'slow'; ms: number };

const behaviourArb: fc.Arbitrary<Behaviour> = fc.oneof(
  fc.constantFrom<Behaviour>(
    { kind: 'value', value: true, status: 'pass' },
    { kind: 'value', value: undefined, status: 'pass' },
    { kind: 'value', value: 'warn', status: 'warn' },
    { kind: 'value', value: false, status: 'fail' },
    { kind: 'value', value: { status: 'down' }, status: 'fail' },
    { kind: 'value', value: new Error('refused'), status: 'fail' },
    { kind: 'throw' },
    { kind: 'reject' },
    { kind: 'hang' },
  ),
  fc.record({ kind: fc.constant('slow' as const), ms: fc.integer({ min: 0, max: 400 }) }),
);

describe('health checks that hang, throw or are slow (property)', () => {
  it('each is reported as the table says, by its own timeout, none holds back the others, and a cached report ages', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(behaviourArb, fc.integer({ min: 1, max: 300 })), { minLength: 1, maxLength: 5 }),
        fc.integer({ min: 0, max: 500 }),
        fc.integer({ min: 0, max: 600 }),
        async (checks, cacheMs, laterMs) => {
          const clock = new FakeClock();
          const probes = health({ clock, cacheMs });
          const signals: AbortSignal[] = [];
          checks.forEach(([behaviour, timeoutMs], c) => {
            probes.register(
              `c${c}`,
              (signal) => {
                signals[c] = signal;
                if (behaviour.kind === 'value') return behaviour.value as never;
                if (behaviour.kind === 'slow') return clock.sleep(behaviour.ms).then(() => true);
                if (behaviour.kind === 'throw') throw new Error('thrown');
                if (behaviour.kind === 'reject') return Promise.reject(new Error('rejected'));
                return new Promise<never>(() => {}); // hangs
              },
              { timeoutMs },
            );
          });
          let report: Awaited<ReturnType<typeof probes.run>> | undefined;
          void probes.run().then((r) => {
            report = r;
          });
          // Each check takes its own time, cut at its own timeout: the run ends with the longest of those.
          const took = checks.map(([b, timeoutMs]) =>
            b.kind === 'hang' ? timeoutMs : b.kind === 'slow' ? Math.min(b.ms, timeoutMs) : 0,
          );
          const longest = Math.max(...took);
          if (longest > 0) {
            await clock.advance(longest - 1);
            expect(report).toBeUndefined();
          }
          await clock.advance(longest === 0 ? 0 : 1);
          expect(report).toBeDefined();
          checks.forEach(([b, timeoutMs], c) => {
            const result = report!.checks[`c${c}`]!;
            const timedOut = b.kind === 'hang' || (b.kind === 'slow' && b.ms >= timeoutMs);
            const status = b.kind === 'value' ? b.status : b.kind === 'slow' && !timedOut ? 'pass' : 'fail';
            expect(result.status, `check ${c}`).toBe(status);
            expect(result.durationMs, `check ${c}`).toBe(took[c]);
            if (timedOut) expect(result.error).toBe(`timed out after ${timeoutMs} ms`);
            if (b.kind === 'throw' || b.kind === 'reject') expect(result.error).toMatch(/thrown|rejected/);
            expect(signals[c]!.aborted, `check ${c}'s signal`).toBe(timedOut);
          });
          await clock.advance(laterMs);
          // Served from the cache while younger than cacheMs (with what it has left), else run again.
          let again: typeof report;
          void probes.run().then((r) => {
            again = r;
          });
          await clock.advance(0);
          if (laterMs < cacheMs) {
            expect(again).toBe(report);
            expect(probes.maxAgeMs(again!)).toBe(cacheMs - laterMs);
          } else {
            await clock.runAll();
            expect(again).not.toBe(report);
          }
          // No timer of its own is left: only the slow checks' sleeps, which ignore their signals.
          const sleeping = checks.filter(([b, t]) => b.kind === 'slow' && b.ms > t + laterMs).length;
          expect(clock.pendingTimers).toBeLessThanOrEqual(sleeping);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('health runs at the same time (property)', () => {
  it('never starts a check while a call of it runs (even past its timeout), and each run answers within its own timeout', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            timeoutMs: fc.integer({ min: 1, max: 100 }),
            // How long each call of the check takes (undefined: it hangs); cycled through.
            calls: fc.array(fc.option(fc.integer({ min: 0, max: 250 }), { nil: undefined, freq: 4 }), {
              minLength: 1,
              maxLength: 4,
            }),
            honours: fc.boolean(),
          }),
          { minLength: 1, maxLength: 3 },
        ),
        fc.array(fc.integer({ min: 0, max: 120 }), { minLength: 1, maxLength: 8 }),
        async (checks, gaps) => {
          const clock = new FakeClock();
          const probes = health({ clock });
          const active = checks.map(() => 0);
          const made = checks.map(() => 0);
          const violations: string[] = [];
          checks.forEach((spec, c) => {
            probes.register(
              `c${c}`,
              (signal) => {
                if (active[c]! > 0) violations.push(`check ${c} started while a call of it ran`);
                const ms = spec.calls[made[c]!++ % spec.calls.length];
                active[c]!++;
                const end = <T>(value: T) => {
                  active[c]!--;
                  return value;
                };
                if (ms === undefined) {
                  // Hangs, or stops at its signal.
                  return new Promise<boolean>((resolve) => {
                    if (spec.honours) signal.addEventListener('abort', () => resolve(end(false)), { once: true });
                  });
                }
                return clock.sleep(ms, spec.honours ? signal : undefined).then(
                  () => end(true),
                  () => end(false),
                );
              },
              { timeoutMs: spec.timeoutMs },
            );
          });
          const longest = Math.max(...checks.map((c) => c.timeoutMs));
          const runs: { at: number; done?: number }[] = [];
          for (const gap of gaps) {
            const run: { at: number; done?: number } = { at: clock.now() };
            runs.push(run);
            void probes.run().then(() => (run.done = clock.now()));
            await clock.advance(gap);
          }
          await clock.advance(longest);
          for (const run of runs) {
            expect(run.done, `run at ${run.at}`).toBeDefined();
            expect(run.done! - run.at).toBeLessThanOrEqual(longest);
          }
          expect(violations).toEqual([]);
        },
      ),
      { numRuns: 200 },
    );
  });
});
