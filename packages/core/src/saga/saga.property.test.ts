import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
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
          // A cancel during the last step comes once every step ran: the saga completed.
          const stop = specs.findIndex(
            (spec, i) => spec.run === 'fail' || (spec.run === 'cancel' && i < specs.length - 1),
          );
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
});
