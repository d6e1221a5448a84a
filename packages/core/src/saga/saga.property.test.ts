import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
import { backoff } from '../retry/backoff.js';
import { retry } from '../retry/retry.js';
import { memoryStore } from '../store/memory.js';
import { saga } from './saga.js';

interface StepSpec {
  /** `ok`, or a plain failure (it did not take effect), or the caller cancels while it runs. */
  readonly run: 'ok' | 'fail' | 'cancel';
  readonly compensable: boolean;
  /** How many compensation attempts fail before one succeeds (3 or more: it never does). */
  readonly compFailures: number;
}

const stepArb: fc.Arbitrary<StepSpec> = fc.record({
  run: fc.constantFrom('ok' as const, 'ok' as const, 'ok' as const, 'fail' as const, 'cancel' as const),
  compensable: fc.boolean(),
  compFailures: fc.constantFrom(0, 0, 1, 2, 3),
});

describe('saga (properties)', () => {
  for (const logged of [false, true]) {
    it(`${logged ? 'with a store' : 'in memory'}: on any failure or cancel, exactly the completed steps are undone, in reverse order, once each, and the status says how`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(stepArb, { minLength: 1, maxLength: 5 }), async (specs) => {
          const clock = new FakeClock();
          const controller = new AbortController();
          const trace: string[] = [];
          const compAttempts = specs.map(() => 0);
          let s = saga<number>('p', { clock, ...(logged ? { store: memoryStore() } : {}) });
          specs.forEach((spec, i) => {
            s = s.step({
              name: `s${i}`,
              run: () => {
                trace.push(`run ${i}`);
                if (spec.run === 'fail') throw new Error(`step ${i} failed`);
                if (spec.run === 'cancel') controller.abort(new Error('cancelled'));
                return i;
              },
              ...(spec.compensable
                ? {
                    compensate: () => {
                      trace.push(`undo ${i}`);
                      if (++compAttempts[i]! <= spec.compFailures) throw new Error(`undo ${i} failed`);
                    },
                  }
                : {}),
            });
          });
          const done = s.execute(1, { signal: controller.signal });
          await clock.runAll();
          const report = await done;

          // The steps that ran: up to the first that failed, or the one during which the caller cancelled.
          const stop = specs.findIndex((spec) => spec.run !== 'ok');
          const ran = stop === -1 ? specs.length : stop + 1;
          expect(trace.filter((t) => t.startsWith('run'))).toEqual(specs.slice(0, ran).map((_, i) => `run ${i}`));
          // Undone: each step that completed (a cancel came while it ran, it returned) and has a compensate.
          const undone = specs
            .map((spec, i) => ({ spec, i }))
            .filter(({ spec, i }) => stop !== -1 && i < ran && spec.run !== 'fail' && spec.compensable)
            .map(({ i }) => i)
            .reverse();
          const firstUndo = trace.filter((t, k) => t.startsWith('undo') && trace.indexOf(t) === k);
          expect(firstUndo).toEqual(undone.map((i) => `undo ${i}`));
          // Never undone after the next one began, never again once it succeeded, at most 3 attempts.
          const undos = trace.filter((t) => t.startsWith('undo'));
          expect(undos).toEqual(
            undone.flatMap((i) => Array(Math.min(3, specs[i]!.compFailures + 1)).fill(`undo ${i}`)),
          );

          const compFailed = undone.some((i) => specs[i]!.compFailures >= 3);
          const expected =
            stop === -1
              ? 'completed'
              : compFailed
                ? 'compensation_failed'
                : specs[stop]!.run === 'cancel'
                  ? 'cancelled'
                  : 'compensated';
          expect(report.status).toBe(expected);
          if (stop !== -1 && specs[stop]!.run === 'fail') expect(report.failedStep).toBe(`s${stop}`);
          report.steps.forEach((step, i) => {
            const spec = specs[i]!;
            const status =
              i >= ran
                ? 'not_run'
                : spec.run === 'fail'
                  ? 'failed'
                  : stop === -1
                    ? 'completed'
                    : !spec.compensable
                      ? 'not_compensable'
                      : spec.compFailures >= 3
                        ? 'compensation_failed'
                        : 'compensated';
            expect(step.status, `step ${i}`).toBe(status);
          });
          expect(clock.pendingTimers).toBe(0);
        }),
        { numRuns: 150 },
      );
    });
  }

  it('a cancel at any instant: no step starts after it, the steps that ran or were running are undone in reverse order once each, and undoing is not cut short', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            ms: fc.integer({ min: 0, max: 100 }).map((n) => n * 10),
            ok: fc.boolean(),
            honours: fc.boolean(),
            compensable: fc.boolean(),
            undoMs: fc.integer({ min: 0, max: 10 }).map((n) => n * 10),
            retried: fc.boolean(),
          }),
          { minLength: 1, maxLength: 4 },
        ),
        fc.integer({ min: 0, max: 300 }).map((n) => n * 10 + 5), // never the instant a step ends
        fc.boolean(),
        async (specs, cancelAt, logged) => {
          const clock = new FakeClock();
          const controller = new AbortController();
          clock.setTimeout(() => controller.abort(new Error('cancelled')), cancelAt);
          const started: number[] = [];
          const undone: { i: number; result: unknown; at: number }[] = [];
          let s = saga<number>('c', { clock, ...(logged ? { store: memoryStore() } : {}) });
          specs.forEach((spec, i) => {
            s = s.step({
              name: `s${i}`,
              // Two attempts, the first failing at once: the wait between them is 10 ms.
              ...(spec.retried
                ? { retry: retry({ maxAttempts: 2, backoff: backoff.constant(10), handle: () => true, clock }) }
                : {}),
              run: async ({ signal, attempt }) => {
                started.push(i);
                if (spec.retried && attempt === 1) throw new Error('first attempt');
                await clock.sleep(spec.ms, spec.honours ? signal : undefined);
                if (!spec.ok) throw new Error(`step ${i} failed`);
                return i;
              },
              ...(spec.compensable
                ? {
                    compensate: async (_context, result) => {
                      await clock.sleep(spec.undoMs);
                      undone.push({ i, result, at: clock.now() });
                    },
                  }
                : {}),
            });
          });
          const done = s.execute(1, { signal: controller.signal });
          await clock.runAll();
          const report = await done;

          // When each step starts and ends; the one the cancel falls in (or after the last started).
          let t = 0;
          const stepsRun: { i: number; end: number; completed: boolean; interrupted: boolean }[] = [];
          let failed = false;
          for (const [i, spec] of specs.entries()) {
            if (t > cancelAt) break;
            const begin = t + (spec.retried ? 10 : 0);
            const natural = begin + spec.ms;
            // A cancel during the retry's wait ends the step then; one while it runs ends it if it listens.
            const cutAt = spec.retried && cancelAt > t && cancelAt < begin ? cancelAt : undefined;
            const end = cutAt ?? (spec.honours && cancelAt < natural && cancelAt > begin ? cancelAt : natural);
            const completed = cutAt === undefined && end === natural && spec.ok;
            stepsRun.push({ i, end, completed, interrupted: !completed && cancelAt <= end });
            t = end;
            if (!completed) {
              failed = true;
              break;
            }
          }
          expect(started.filter((i, k) => started.indexOf(i) === k)).toEqual(stepsRun.map((r) => r.i));
          const anyUndo = failed || cancelAt <= t;
          const expectUndo = anyUndo
            ? stepsRun
                .filter((r) => specs[r.i]!.compensable && (r.completed || r.interrupted))
                .map((r) => r.i)
                .reverse()
            : [];
          expect(undone.map((u) => u.i)).toEqual(expectUndo);
          for (const u of undone) {
            const r = stepsRun.find((x) => x.i === u.i)!;
            expect(u.result, `step ${u.i}'s result`).toBe(r.completed ? u.i : undefined);
          }
          expect(report.status).toBe(!anyUndo ? 'completed' : cancelAt <= t ? 'cancelled' : 'compensated');
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a cancel while the last step runs undoes it as after any other step (fast-check: one step of 10 ms that ignores its signal, cancelled at 5 ms)', async () => {
    const clock = new FakeClock();
    const controller = new AbortController();
    const undone: unknown[] = [];
    const done = saga<number>('last', { clock })
      .step({
        name: 'charge',
        run: () => clock.sleep(10).then(() => 'charge-1'),
        compensate: (_context, result) => {
          undone.push(result);
        },
      })
      .execute(1, { signal: controller.signal });
    clock.setTimeout(() => controller.abort(new Error('caller left')), 5);
    await clock.runAll();
    const report = await done;
    expect(report.status).toBe('cancelled');
    expect(undone).toEqual(['charge-1']);
    expect(report.steps[0]?.status).toBe('compensated');
  });
});
