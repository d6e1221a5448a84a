import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
import { isTransactionError, type TransactionError, transactions } from './transaction.js';

const stepArb: fc.Arbitrary<Step> = fc.record({
  ms: fc.integer({ min: 0, max: 50 }),
  fails: fc.constantFrom<Step['fails']>(false, false, 'error', 'network'),
  sync: fc.boolean(),
});
type Step = { ms: number; fails: false | 'error' | 'network'; sync: boolean };

const act = (clock: FakeClock, step: Step, value: unknown) => {
  const outcome = () => {
    if (step.fails === 'network') throw Object.assign(new Error('connection reset'), { code: 'ECONNRESET' });
    if (step.fails === 'error') throw new Error('constraint');
    return value;
  };
  return step.sync && step.ms === 0 ? outcome() : clock.sleep(step.ms).then(outcome);
};

describe('transactions (property)', () => {
  it('commits only what ran to the end unaborted, rolls back every transaction begun that did not commit, once, and says what happened', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({ begin: stepArb, fn: stepArb, commit: stepArb, rollback: stepArb }),
        fc.option(fc.integer({ min: 0, max: 160 }), { nil: undefined }),
        async (steps, abortAt) => {
          const clock = new FakeClock();
          const calls: string[] = [];
          const events: string[] = [];
          const tx = transactions({
            begin: () => {
              calls.push('begin');
              return act(clock, steps.begin, 'tx') as Promise<string>;
            },
            commit: () => {
              calls.push('commit');
              return act(clock, steps.commit, undefined) as Promise<void>;
            },
            rollback: () => {
              calls.push('rollback');
              return act(clock, steps.rollback, undefined) as Promise<void>;
            },
          });
          tx.onEvent((e) => events.push(e.type));
          const controller = new AbortController();
          if (abortAt !== undefined) clock.setTimeout(() => controller.abort(new Error('gave up')), abortAt);
          let result: { ok: true; value: unknown } | { ok: false; error: unknown } | undefined;
          tx.run(
            () => {
              calls.push('fn');
              return act(clock, steps.fn, 42);
            },
            { signal: controller.signal },
          ).then(
            (value) => {
              result = { ok: true, value };
            },
            (error: unknown) => {
              result = { ok: false, error };
            },
          );
          await clock.runAll();
          expect(result).toBeDefined();

          // When each part ends, and whether the caller had given up by then.
          const gaveUp = (t: number) => abortAt !== undefined && abortAt <= t;
          const beginEnd = steps.begin.ms;
          // An abort at the instant a part ends races it on the clock's order: not a case of the rule.
          fc.pre(abortAt === undefined || (abortAt !== beginEnd && abortAt !== beginEnd + steps.fn.ms));
          const expected: string[] = [];
          // The signal is not aborted when run() is called: begin always runs.
          expected.push('begin');
          if (!steps.begin.fails) {
            const ranFn = !gaveUp(beginEnd);
            if (ranFn) expected.push('fn');
            const commits = ranFn && !steps.fn.fails && !gaveUp(beginEnd + steps.fn.ms);
            if (commits) expected.push('commit');
            if (!commits || steps.commit.fails) expected.push('rollback');
          }
          expect(calls).toEqual(expected);
          const committed = calls.includes('commit') && !steps.commit.fails;
          expect(result!.ok).toBe(committed);
          if (committed) expect(result).toEqual({ ok: true, value: 42 });
          else {
            const error = (result as { error: TransactionError }).error;
            expect(isTransactionError(error)).toBe(true);
            const phase =
              !calls.includes('begin') || steps.begin.fails ? 'begin' : calls.includes('commit') ? 'commit' : 'run';
            expect(error.phase).toBe(phase);
            expect(error.outcomeUnknown).toBe(phase === 'commit' && steps.commit.fails === 'network');
            if (error.outcomeUnknown) expect(error.transient).toBe(false);
            expect(error.rollbackError !== undefined).toBe(
              calls.includes('rollback') && steps.rollback.fails !== false,
            );
          }
          // Events: begin once a transaction is open, then commit or rollback.
          const opened = calls.includes('begin') && !steps.begin.fails;
          expect(events).toEqual(opened ? ['begin', committed ? 'commit' : 'rollback'] : []);
        },
      ),
      { numRuns: 300 },
    );
  });
});
