import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
import { messageProcessor } from './processor.js';

type Outcome = 'ok' | 'transient' | 'poison';
const outcomeArb = fc.constantFrom<Outcome>('ok', 'transient', 'transient', 'poison');
const fail = (outcome: Outcome) => {
  if (outcome === 'poison') throw new SyntaxError('bad JSON');
  if (outcome === 'transient') throw new Error('socket hang up');
};

interface Message {
  readonly id: string;
}

describe('message processor (properties)', () => {
  it('one delivery at a time: dead-letters poison at once and a transient failure at exactly maxAttempts, sinks each message once, and counts every delivery once', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.array(
          fc.record({
            id: fc.constantFrom('m1', 'm2'),
            outcome: outcomeArb,
            sinkFails: fc.boolean(),
            waitMs: fc.integer({ min: 0, max: 5_000 }),
          }),
          { minLength: 1, maxLength: 30 },
        ),
        async (maxAttempts, deliveries) => {
          const clock = new FakeClock();
          let outcome: Outcome = 'ok';
          let sinkFails = false;
          const ran: string[] = [];
          const sunk: { id: string; reason: string; attempts: number }[] = [];
          const processor = messageProcessor<Message>({
            maxAttempts,
            clock,
            handler: (message) => {
              ran.push(message.id);
              fail(outcome);
            },
            deadLetter: (message, { reason, attempts }) => {
              if (sinkFails) throw new Error('sink down');
              sunk.push({ id: message.id, reason, attempts });
            },
          });
          const model = new Map<string, { attempts: number; dead: boolean; owe?: 'poison' | 'max_retries_exceeded' }>();
          const stats = { processed: 0, retried: 0, duplicates: 0, sinkFailures: 0, poison: 0, max: 0 };
          for (const delivery of deliveries) {
            outcome = delivery.outcome;
            sinkFails = delivery.sinkFails;
            const m = model.get(delivery.id) ?? { attempts: 0, dead: false };
            model.set(delivery.id, m);
            const runsBefore = ran.length;
            const sinksBefore = sunk.length;
            let result: unknown;
            try {
              result = (await processor.process({ id: delivery.id })).outcome;
            } catch (error) {
              result = (error as Error).message;
            }
            let expected: string;
            let runs = 0;
            const sink = (reason: 'poison' | 'max_retries_exceeded') => {
              if (sinkFails) {
                stats.sinkFailures++;
                m.owe = reason;
                return 'sink down';
              }
              m.dead = true;
              delete m.owe;
              stats[reason === 'poison' ? 'poison' : 'max']++;
              return 'dead_lettered';
            };
            if (m.dead) {
              stats.duplicates++;
              expected = 'dead_lettered';
            } else {
              m.attempts++;
              if (m.owe !== undefined) expected = sink(m.owe);
              else {
                runs = 1;
                if (delivery.outcome === 'ok') {
                  stats.processed++;
                  m.attempts = 0;
                  expected = 'done';
                } else if (delivery.outcome === 'poison') expected = sink('poison');
                else if (m.attempts >= maxAttempts) expected = sink('max_retries_exceeded');
                else {
                  stats.retried++;
                  expected = 'retry';
                }
              }
            }
            expect(result).toBe(expected);
            expect(ran.length - runsBefore).toBe(runs);
            if (expected === 'dead_lettered' && sunk.length > sinksBefore) {
              expect(sunk.at(-1)?.attempts).toBe(m.attempts);
            }
            await clock.advance(delivery.waitMs);
          }
          // The sink took each message once.
          const ids = sunk.map((s) => s.id);
          expect(new Set(ids).size).toBe(ids.length);
          expect(processor.stats).toMatchObject({
            processed: stats.processed,
            retried: stats.retried,
            duplicates: stats.duplicates,
            sinkFailures: stats.sinkFailures,
            deadLettered: { poison: stats.poison, max_retries_exceeded: stats.max },
          });
        },
      ),
      { numRuns: 200 },
    );
  });

  it('deliveries of one message at the same time: the sink takes it at most once, and no handler runs after it did', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 3 }),
        fc.array(
          fc.oneof(
            fc.record({ kind: fc.constant('deliver' as const), id: fc.constantFrom('m1', 'm2') }),
            fc.record({ kind: fc.constant('settle' as const), index: fc.nat(), outcome: outcomeArb }),
            fc.record({ kind: fc.constant('sink' as const), index: fc.nat(), fails: fc.boolean() }),
            fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 40_000 }) }),
          ),
          { minLength: 1, maxLength: 40 },
        ),
        async (maxAttempts, ops) => {
          const clock = new FakeClock();
          const handlers: { id: string; settle: (o: Outcome) => void; open: boolean }[] = [];
          const sinks: { id: string; settle: (fails: boolean) => void; open: boolean }[] = [];
          const dead = new Set<string>();
          // Found inside the handler or the sink, where a throw would be taken for their failure.
          const violations: string[] = [];
          const results: Promise<unknown>[] = [];
          const processor = messageProcessor<Message>({
            maxAttempts,
            clock,
            handler: (message) => {
              if (dead.has(message.id)) violations.push(`handler ran for ${message.id} after it was dead-lettered`);
              return new Promise<void>((resolve, reject) => {
                handlers.push({
                  id: message.id,
                  open: true,
                  settle: (o) => {
                    try {
                      fail(o);
                      resolve();
                    } catch (error) {
                      reject(error);
                    }
                  },
                });
              });
            },
            deadLetter: (message) =>
              new Promise<void>((resolve, reject) => {
                sinks.push({
                  id: message.id,
                  open: true,
                  settle: (fails) => {
                    if (fails) reject(new Error('sink down'));
                    else {
                      if (dead.has(message.id)) violations.push(`${message.id} dead-lettered twice`);
                      dead.add(message.id);
                      resolve();
                    }
                  },
                });
              }),
          });
          const pick = <T extends { open: boolean }>(list: T[], index: number) => {
            const open = list.filter((x) => x.open);
            const chosen = open[index % Math.max(1, open.length)];
            if (chosen) chosen.open = false;
            return chosen;
          };
          for (const op of ops) {
            if (op.kind === 'deliver')
              results.push(processor.process({ id: op.id }).catch((error: Error) => error.message));
            else if (op.kind === 'settle') pick(handlers, op.index)?.settle(op.outcome);
            else if (op.kind === 'sink') pick(sinks, op.index)?.settle(op.fails);
            else await clock.advance(op.ms);
            await clock.advance(0);
          }
          for (let round = 0; round < 50 && (handlers.some((h) => h.open) || sinks.some((s) => s.open)); round++) {
            for (const h of handlers.filter((x) => x.open)) {
              h.open = false;
              h.settle('ok');
            }
            for (const s of sinks.filter((x) => x.open)) {
              s.open = false;
              s.settle(false);
            }
            await clock.advance(0);
          }
          await Promise.all(results);
          expect(violations).toEqual([]);
          expect(clock.pendingTimers).toBe(0);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('time limits: the soft one aborts the signal, the hard one ends the attempt as transient, each counted once per attempt, no timer left', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.option(
          fc.integer({ min: 1, max: 30 }).map((n) => n * 10 + 3),
          { nil: undefined },
        ),
        fc.option(
          fc.integer({ min: 1, max: 30 }).map((n) => n * 10 + 7),
          { nil: undefined },
        ),
        fc.array(
          fc.record({
            ms: fc.integer({ min: 0, max: 40 }).map((n) => n * 10),
            ok: fc.boolean(),
            honours: fc.boolean(),
          }),
          { minLength: 1, maxLength: 6 },
        ),
        async (softTimeoutMs, hard, attempts) => {
          fc.pre(softTimeoutMs !== undefined || hard !== undefined);
          const hardTimeoutMs =
            hard !== undefined && softTimeoutMs !== undefined && hard <= softTimeoutMs ? undefined : hard;
          const clock = new FakeClock();
          let k = 0;
          const signals: AbortSignal[] = [];
          const timeouts: string[] = [];
          const processor = messageProcessor<Message>({
            maxAttempts: 100,
            clock,
            ...(softTimeoutMs !== undefined ? { softTimeoutMs } : {}),
            ...(hardTimeoutMs !== undefined ? { hardTimeoutMs } : {}),
            handler: async (_message, { signal }) => {
              const a = attempts[k++]!;
              signals.push(signal);
              await clock.sleep(a.ms, a.honours ? signal : undefined);
              if (!a.ok) throw new Error('socket hang up');
            },
            deadLetter: () => {},
          });
          processor.onEvent((e) => {
            if (e.type === 'timeout') timeouts.push(e.limit);
          });
          let soft = 0;
          let hardCount = 0;
          const expectedTimeouts: string[] = [];
          for (const a of attempts) {
            const start = clock.now();
            let result: string | undefined;
            void processor.process({ id: 'm' }).then((r) => (result = r.outcome));
            // The handler ends at its time, or at the soft limit if it listens; the hard limit ends the attempt.
            const handlerEnd = a.honours && softTimeoutMs !== undefined && softTimeoutMs < a.ms ? softTimeoutMs : a.ms;
            const end = hardTimeoutMs !== undefined && hardTimeoutMs < handlerEnd ? hardTimeoutMs : handlerEnd;
            const ok = end === a.ms && a.ok && !(hardTimeoutMs !== undefined && end === hardTimeoutMs);
            const softReached = softTimeoutMs !== undefined && softTimeoutMs <= end;
            const hardReached = hardTimeoutMs !== undefined && end === hardTimeoutMs && hardTimeoutMs < handlerEnd;
            if (softReached) soft++;
            if (hardReached) hardCount++;
            if (!ok && (softReached || hardReached)) expectedTimeouts.push(hardReached ? 'hard' : 'soft');
            if (end > 0) {
              await clock.advance(end - 1);
              expect(result).toBeUndefined();
            }
            await clock.advance(end === 0 ? 0 : 1);
            expect(result, `attempt at ${start}`).toBe(ok ? 'done' : 'retry');
            expect(signals.at(-1)!.aborted).toBe(softReached || hardReached);
            // Only the handlers' own sleeps that ignore their signal may still wait.
            expect(clock.pendingTimers).toBeLessThanOrEqual(a.honours ? 0 : 1);
            await clock.runAll();
          }
          expect(processor.stats).toMatchObject({ softTimeouts: soft, hardTimeouts: hardCount });
          expect(timeouts).toEqual(expectedTimeouts);
        },
      ),
      { numRuns: 300 },
    );
  });
});
