import { IdempotencyConflictError, memoryStore, PROBLEM_TYPES } from '@resilience/core';
import { expect } from 'vitest';
import { deferred } from '../context.js';
import { counter, problemOf, type Scenario } from '../scenario.js';

const KEY = '"4f1c2a9e-nested-key"';
const post = (key: string | null = KEY): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', ...(key === null ? {} : { 'idempotency-key': key }) },
  body: '{"item":"book"}',
});

/** What a client can compare of a response: status, whether it is a replay, the body. */
const seen = async (res: Response) => [res.status, res.headers.get('idempotent-replayed'), await res.text()];

// Idempotency reached twice by one request (a newcomer mounts it on the app and again on a
// route; two instances share one store): the first to take the request decides, the later
// one passes it through. Before, the later one's claim met the first's: 409, the handler never
// ran, and the first recorded that 409 and replayed it for ttlMs.
export const idempotencyNestedScenarios: Scenario[] = [
  {
    area: 'idempotency',
    name: 'one idempotency mounted twice on a request runs the handler once and replays its answer, never a 409',
    async run(t) {
      const runs = counter();
      const idem = t.m.idempotency({ logger: t.logger() });
      const app = await t.serve([
        idem,
        idem,
        t.m.route('POST', '/orders', () => runs.add({ status: 201, json: { order: runs.runs + 1 } })),
      ]);
      expect(await seen(await app.fetch('/orders', post()))).toEqual([201, null, '{"order":1}']);
      expect(await seen(await app.fetch('/orders', post()))).toEqual([201, 'true', '{"order":1}']);
      expect(runs.runs).toBe(1);
    },
  },
  {
    area: 'idempotency',
    name: 'two idempotency middlewares sharing one store on a request: the first with a key decides, the second passes it through; one that has no key leaves it to the second',
    async run(t) {
      const runs = counter();
      const store = memoryStore();
      const app = await t.serve([
        t.m.idempotency({ store, logger: t.logger() }),
        t.m.idempotency({ store, required: true, logger: t.logger() }),
        t.m.route('POST', '/orders', () => runs.add({ status: 201, json: { order: runs.runs + 1 } })),
      ]);
      expect(await seen(await app.fetch('/orders', post()))).toEqual([201, null, '{"order":1}']);
      expect(await seen(await app.fetch('/orders', post()))).toEqual([201, 'true', '{"order":1}']);
      // The first has nothing to do with a request without a key: the second, which requires one, answers.
      const missing = await app.fetch('/orders', post(null));
      expect(missing.status).toBe(400);
      expect(await problemOf(missing)).toMatchObject({ type: PROBLEM_TYPES.idempotency_key_missing });
      expect(runs.runs).toBe(1);
    },
  },
  {
    area: 'idempotency',
    name: 'mounted twice, a repeat while the first runs gets 409 and that 409 is never recorded: the first run is replayed after it',
    async run(t) {
      const runs = counter();
      const entered = deferred();
      const release = deferred();
      const idem = t.m.idempotency({ logger: t.logger() });
      const app = await t.serve([
        idem,
        idem,
        t.m.route('POST', '/orders', async () => {
          runs.add();
          entered.resolve();
          await release.promise;
          return { status: 201, json: { order: 1 } };
        }),
      ]);
      const first = app.fetch('/orders', post());
      await entered.promise;
      const conflict = await app.fetch('/orders', post());
      expect(conflict.status).toBe(409);
      expect(await problemOf(conflict)).toMatchObject({ type: PROBLEM_TYPES.idempotency_key_in_use });
      release.resolve();
      expect(await seen(await first)).toEqual([201, null, '{"order":1}']);
      expect(await seen(await app.fetch('/orders', post()))).toEqual([201, 'true', '{"order":1}']);
      expect(runs.runs).toBe(1);
    },
  },
  {
    area: 'idempotency',
    name: "a handler whose own idempotent call is in flight (core's IdempotencyConflictError 'in_flight', a 409 from errorHandler): that 409 is not recorded, the retry runs the handler",
    async run(t) {
      const runs = counter();
      const app = await t.serve([
        t.m.errorHandler({ logger: t.logger() }),
        t.m.idempotency({ logger: t.logger() }),
        t.m.route('POST', '/orders', () => {
          runs.add();
          // As payments.execute(...) with onInFlight: 'reject' throws while another request holds its key.
          if (runs.runs === 1) throw new IdempotencyConflictError('in_flight');
          return { status: 201, json: { order: 1 } };
        }),
      ]);
      const conflict = await app.fetch('/orders', post());
      expect(conflict.status).toBe(409);
      expect(await seen(await app.fetch('/orders', post()))).toEqual([201, null, '{"order":1}']);
      expect(await seen(await app.fetch('/orders', post()))).toEqual([201, 'true', '{"order":1}']);
      expect(runs.runs).toBe(2);
    },
  },
];
