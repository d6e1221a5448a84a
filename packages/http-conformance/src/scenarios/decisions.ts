import { fixedWindow, type HttpDecision, onHttpDecision } from '@resilience/core';
import { FakeClock } from '@resilience/core/testing';
import { expect } from 'vitest';
import { deferred } from '../context.js';
import type { Scenario } from '../scenario.js';
import { downStore } from './rate-limit.js';

const ok = () => ({ json: { ok: true } });
const order = (body: string): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', 'idempotency-key': '"order-1"' },
  body,
});

export const decisionScenarios: Scenario[] = [
  {
    area: 'decisions',
    name: 'reports each decision to onHttpDecision: rate_limited, store_unavailable, replayed, idempotency_conflict, shed, timed_out',
    async run(t) {
      const heard: HttpDecision[] = [];
      const stop = onHttpDecision((decision) => heard.push(decision));
      try {
        const clock = new FakeClock(0);
        const limited = await t.serve([
          t.m.rateLimit({ name: 'api', algorithm: fixedWindow({ limit: 1, windowMs: 60_000 }), clock }),
          t.m.route('GET', '/', ok),
        ]);
        expect([(await limited.fetch('/')).status, (await limited.fetch('/')).status]).toEqual([200, 429]);
        const closed = await t.serve([
          t.m.rateLimit({
            name: 'strict',
            algorithm: fixedWindow({ limit: 1, windowMs: 60_000 }),
            store: downStore(),
            onStoreError: 'closed',
            logger: t.logger(),
          }),
          t.m.route('GET', '/', ok),
        ]);
        expect((await closed.fetch('/')).status).toBe(503);
        const orders = await t.serve([t.m.idempotency({ clock }), t.m.route('POST', '/orders', ok)]);
        const statuses = [];
        for (const body of ['{"cents":1}', '{"cents":1}', '{"cents":2}']) {
          statuses.push((await orders.fetch('/orders', order(body))).status);
        }
        expect(statuses).toEqual([200, 200, 422]);
        const unrecorded = await t.serve([
          t.m.idempotency({ store: downStore(), logger: t.logger() }),
          t.m.route('POST', '/orders', ok),
        ]);
        expect((await unrecorded.fetch('/orders', order('{"cents":1}'))).status).toBe(503);
        const entered = deferred();
        const release = deferred();
        const shedding = await t.serve([
          t.m.loadShedding({ maxConcurrent: 1 }),
          t.m.route('GET', '/', async () => {
            entered.resolve();
            await release.promise;
            return ok();
          }),
        ]);
        const first = shedding.fetch('/');
        await entered.promise;
        expect((await shedding.fetch('/')).status).toBe(503);
        release.resolve();
        expect((await first).status).toBe(200);
        const waiting = deferred();
        const slow = await t.serve([
          t.m.timeout({ ms: 1_000, clock }),
          t.m.route('GET', '/', async () => {
            waiting.resolve();
            await clock.sleep(5_000);
            return ok();
          }),
        ]);
        const pending = slow.fetch('/');
        await waiting.promise;
        await clock.advance(1_000);
        expect((await pending).status).toBe(503);
        await clock.advance(4_000);
        expect(heard).toEqual([
          { decision: 'rate_limited', policy: 'api' },
          { decision: 'store_unavailable', policy: 'strict' },
          { decision: 'replayed' },
          { decision: 'idempotency_conflict' },
          { decision: 'store_unavailable' },
          { decision: 'shed' },
          { decision: 'timed_out' },
        ]);
      } finally {
        stop();
      }
    },
  },
];
