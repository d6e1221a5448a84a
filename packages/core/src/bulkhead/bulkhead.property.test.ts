import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
import { adaptiveLimit } from '../concurrency/adaptive-limit.js';
import { isBulkheadRejectedError } from '../errors/errors.js';
import { bulkhead } from './bulkhead.js';

type Op =
  | { kind: 'call'; body: 'async' | 'value' | 'throw'; abortAfter: number | undefined }
  | { kind: 'settle'; index: number; fail: boolean; abortIndex: number | undefined }
  | { kind: 'advance'; ms: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('call' as const),
      body: fc.constantFrom('async' as const, 'async' as const, 'value' as const, 'throw' as const),
      abortAfter: fc.option(fc.integer({ min: 0, max: 300 }), { nil: undefined }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('settle' as const),
      index: fc.nat(),
      fail: fc.boolean(),
      // Another call's caller aborts in the same tick (the slot handed over, its start not yet run).
      abortIndex: fc.option(fc.nat(), { nil: undefined, freq: 3 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 200 }) }) },
);

interface Call {
  readonly id: number;
  readonly controller: AbortController;
  state: 'pending' | 'running' | 'done' | 'rejected' | 'expired' | 'aborted';
  settle?: (fail: boolean) => void;
}

describe('bulkhead (properties)', () => {
  for (const adaptive of [false, true]) {
    it(`${adaptive ? 'an adaptive limit' : 'a fixed limit'}: never runs more than its limit, never queues more than queue, starts FIFO, refuses only when full, and frees every slot once`, async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 1, max: 3 }),
          fc.integer({ min: 0, max: 3 }),
          fc.option(fc.integer({ min: 1, max: 300 }), { nil: undefined }),
          fc.array(opArb, { minLength: 1, maxLength: 50, size: 'max' }),
          async (limit, queue, maxQueueMs, ops) => {
            const clock = new FakeClock();
            const pool = bulkhead({
              limit: adaptive ? adaptiveLimit({ initialLimit: limit, minLimit: 1, maxLimit: 4 }) : limit,
              queue,
              ...(maxQueueMs !== undefined && queue > 0 ? { maxQueueMs } : {}),
              clock,
            });
            const calls: Call[] = [];
            const failures: unknown[] = [];
            const running = () => calls.filter((c) => c.state === 'running').length;
            const waiting = () => calls.filter((c) => c.state === 'pending').length;
            const check = (ok: boolean, message: string) => {
              if (!ok) failures.push(new Error(message));
            };
            for (const op of ops) {
              if (op.kind === 'advance') await clock.advance(op.ms);
              else if (op.kind === 'call') {
                const call: Call = { id: calls.length, controller: new AbortController(), state: 'pending' };
                calls.push(call);
                const full = pool.executionSlots === 0 && waiting() >= queue;
                if (op.abortAfter !== undefined) clock.setTimeout(() => call.controller.abort(), op.abortAfter);
                pool
                  .execute(() => {
                    check(call.state === 'pending', `call ${call.id} started twice or after leaving`);
                    // FIFO: nobody who came before is still waiting (but for a caller that left).
                    for (const c of calls) {
                      const before = c.id < call.id && c.state === 'pending' && !c.controller.signal.aborted;
                      check(!before, `call ${call.id} started before ${c.id}`);
                    }
                    call.state = 'running';
                    check(running() <= pool.limit, `${running()} calls run with limit ${pool.limit}`);
                    if (op.body === 'value') {
                      call.state = 'done';
                      return 1;
                    }
                    if (op.body === 'throw') {
                      call.state = 'done';
                      throw new Error('sync');
                    }
                    return new Promise((resolve, reject) => {
                      call.settle = (fail) => {
                        call.state = 'done';
                        if (fail) reject(new Error('boom'));
                        else resolve(1);
                      };
                    });
                  }, call.controller.signal)
                  .catch((error: unknown) => {
                    if (call.state === 'done') return;
                    check(call.state === 'pending', `call ${call.id} rejected while ${call.state}`);
                    if (isBulkheadRejectedError(error)) {
                      call.state = error.message.includes('maxQueueMs') ? 'expired' : 'rejected';
                    } else {
                      check(call.controller.signal.aborted, `call ${call.id} rejected with ${String(error)}`);
                      call.state = 'aborted';
                    }
                  });
                await Promise.resolve();
                await Promise.resolve();
                if (call.state === 'rejected') check(full, `call ${call.id} refused with room`);
              } else {
                const live = calls.filter((c) => c.state === 'running' && c.settle !== undefined);
                const target = live[op.index % Math.max(1, live.length)];
                target?.settle?.(op.fail);
                if (op.abortIndex !== undefined) {
                  const queued = calls.filter((c) => c.state === 'pending');
                  queued[op.abortIndex % Math.max(1, queued.length)]?.controller.abort();
                }
              }
              await clock.advance(0);
              check(waiting() <= queue, `${waiting()} calls wait with queue ${queue}`);
              check(pool.queueSlots === queue - waiting(), `queueSlots ${pool.queueSlots}, ${waiting()} waiting`);
              // A queued call waits only while every slot is taken.
              if (waiting() > 0) check(pool.executionSlots === 0, `${waiting()} wait with a free slot`);
            }
            // Everything settles; every slot comes back exactly once.
            for (let i = 0; i < 200 && calls.some((c) => c.state === 'running' || c.state === 'pending'); i++) {
              for (const c of calls) if (c.state === 'running') c.settle?.(false);
              await clock.advance(1_000);
            }
            if (failures.length > 0) throw failures[0];
            expect(calls.filter((c) => c.state === 'running' || c.state === 'pending')).toEqual([]);
            expect(pool.queueSlots).toBe(queue);
            expect(pool.executionSlots).toBe(pool.limit);
          },
        ),
        { numRuns: 150 },
      );
    });
  }
});
