import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
import { hedge } from './hedge.js';

/** Each attempt, in the order started: how long it takes and whether it succeeds. */
const attemptArb = fc.record({ latencyMs: fc.integer({ min: 0, max: 500 }), ok: fc.boolean() });

describe('hedge (properties)', () => {
  it('starts at most 1 + maxHedges attempts, each after delayMs or at a failure; the first success wins, and the attempts still running lose', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 300 }),
        fc.integer({ min: 0, max: 3 }),
        fc.array(attemptArb, { minLength: 4, maxLength: 4 }),
        fc.option(fc.integer({ min: 0, max: 800 }), { nil: undefined }),
        async (delayMs, maxHedges, plan, abortAt) => {
          const clock = new FakeClock();
          const caller = new AbortController();
          if (abortAt !== undefined) clock.setTimeout(() => caller.abort(), abortAt);
          const started: { at: number; signal: AbortSignal; endsAt: number; ok: boolean }[] = [];
          const policy = hedge({ delayMs, maxHedges, clock });
          let outcome: { at: number; ok: boolean; value: unknown } | undefined;
          let lost: boolean[] = []; // each attempt's signal, aborted when the call settled
          policy
            .execute(({ signal }) => {
              const n = started.length;
              const { latencyMs, ok } = plan[n]!;
              started.push({ at: clock.now(), signal, endsAt: clock.now() + latencyMs, ok });
              return clock.sleep(latencyMs).then(() => {
                if (ok) return n;
                throw new Error(`attempt ${n} failed`);
              });
            }, caller.signal)
            .then(
              (value) => {
                outcome = { at: clock.now(), ok: true, value };
                lost = started.map((s) => s.signal.aborted);
              },
              (error: unknown) => (outcome = { at: clock.now(), ok: false, value: error }),
            );
          await clock.advance(5_000);
          expect(outcome).toBeDefined();
          expect(started.length).toBeLessThanOrEqual(1 + maxHedges);
          // Each attempt starts delayMs after the one before, or as soon as one before failed.
          for (let i = 1; i < started.length; i++) {
            const { at } = started[i]!;
            expect(at).toBeLessThanOrEqual(started[i - 1]!.at + delayMs);
            const atFailure = started.slice(0, i).some((s) => !s.ok && s.endsAt === at);
            expect(at === started[i - 1]!.at + delayMs || atFailure).toBe(true);
            // The caller gave up: no hedge starts after.
            if (abortAt !== undefined) expect(at).toBeLessThanOrEqual(abortAt);
          }
          const successes = started.filter((s) => s.ok).sort((a, b) => a.endsAt - b.endsAt);
          if (successes.length > 0) {
            const first = successes[0]!;
            expect(outcome).toEqual({ at: first.endsAt, ok: true, value: started.indexOf(first) });
            // Every other attempt still running then lost; none started after.
            for (const s of started) {
              if (s === first) expect(lost[started.indexOf(s)]).toBe(abortAt !== undefined && abortAt <= first.endsAt);
              else if (s.endsAt > first.endsAt) expect(lost[started.indexOf(s)]).toBe(true);
              expect(s.at).toBeLessThanOrEqual(first.endsAt);
            }
          } else {
            expect(outcome?.ok).toBe(false);
            const last = [...started].sort((a, b) => a.endsAt - b.endsAt).at(-1)!;
            expect(outcome?.value).toMatchObject({ message: `attempt ${started.indexOf(last)} failed` });
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
