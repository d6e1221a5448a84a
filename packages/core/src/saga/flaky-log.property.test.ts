import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
import { StoreUnavailableError } from '../errors/errors.js';
import { memoryStore } from '../store/memory.js';
import { storeOver } from '../testing/store-over.js';
import { saga } from './saga.js';

describe('saga over a store that fails (property)', () => {
  it('runs no step whose start it could not log, undoes every step that ran once, and never reports completed for a saga it did not finish', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ ok: fc.boolean(), compensable: fc.boolean() }), { minLength: 1, maxLength: 4 }),
        // Which of the store's writes fail (by their order).
        fc.array(fc.boolean(), { minLength: 0, maxLength: 30 }),
        async (specs, failing) => {
          const clock = new FakeClock();
          const inner = memoryStore();
          let n = 0;
          let lastWritten: unknown;
          const store = storeOver(inner, {
            apply: async (key, transition, input, now) => {
              if (failing[n++]) throw new StoreUnavailableError('store down');
              const output = await inner.apply(key, transition, input, now);
              lastWritten = input;
              return output;
            },
          });
          const ran: number[] = [];
          const undone: number[] = [];
          const violations: string[] = [];
          let s = saga<number>('f', { clock, store });
          specs.forEach((spec, i) => {
            s = s.step({
              name: `s${i}`,
              run: () => {
                const w = lastWritten as { op?: string; index?: number; s?: string } | undefined;
                if (!(w?.op === 'step' && w.index === i && w.s === 'started')) violations.push(`s${i} ran unlogged`);
                ran.push(i);
                if (!spec.ok) throw new Error(`s${i} failed`);
                return i;
              },
              ...(spec.compensable
                ? {
                    compensate: () => {
                      undone.push(i);
                    },
                  }
                : {}),
            });
          });
          const done = s.execute(1);
          await clock.runAll();
          const report = await done;
          expect(violations).toEqual([]);
          if (report.status === 'completed') {
            expect(ran).toEqual(specs.map((_, i) => i));
            expect(undone).toEqual([]);
            expect(specs.every((spec) => spec.ok)).toBe(true);
          } else if (report.status === 'compensated' || report.status === 'cancelled') {
            // Every step that ran and took effect (it completed) is undone once, last first.
            const completed = ran.filter((i) => specs[i]!.ok && specs[i]!.compensable);
            expect(undone).toEqual([...completed].reverse());
          } else {
            // compensation_failed: the compensations themselves never fail here, only log writes may stop them.
            expect(new Set(undone).size).toBe(undone.length);
          }
          expect(clock.pendingTimers).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });
});
