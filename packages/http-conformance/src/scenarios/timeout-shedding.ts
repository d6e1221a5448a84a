import { fixedWindow, PROBLEM_TYPES, RequestTimeoutError } from '@resilience/core';
import { FakeClock } from '@resilience/core/testing';
import { expect } from 'vitest';
import { deferred } from '../context.js';
import { counter, problemOf, type Scenario } from '../scenario.js';

export const timeoutScenarios: Scenario[] = [
  {
    area: 'timeout',
    name: 'answers 503 problem+json (request_timeout) and aborts the signal; the late answer writes nothing and breaks nothing',
    async run(t) {
      const clock = new FakeClock(0);
      const entered = deferred<AbortSignal>();
      const late = deferred();
      const errors: unknown[] = [];
      const app = await t.serve([
        t.m.errorHandler({
          recentErrors: {
            record: (e) => {
              errors.push(e);
              return undefined as never;
            },
          },
          logger: t.logger(),
        }),
        t.m.rateLimit({ algorithm: fixedWindow({ limit: 100, windowMs: 60_000 }), clock }),
        t.m.timeout({ ms: 1_000, clock }),
        t.m.route('GET', '/slow', async (r) => {
          entered.resolve(r.signal());
          await clock.sleep(5_000);
          late.resolve();
          return { status: 200, headers: { etag: '"late"' }, json: { late: true } };
        }),
        t.m.route('GET', '/fast', () => ({ json: { fast: true } })),
      ]);
      const pending = app.fetch('/slow', { headers: { 'x-request-id': 'slow-1' } });
      const signal = await entered.promise;
      await clock.advance(1_000);
      const res = await pending;
      expect(res.status).toBe(503);
      expect(res.headers.get('ratelimit')).not.toBeNull(); // headers set before the timeout stay
      expect(await problemOf(res)).toMatchObject({
        type: PROBLEM_TYPES.timeout,
        status: 503,
        code: 'request_timeout',
        correlationId: 'slow-1',
      });
      expect(signal.aborted).toBe(true);
      expect(signal.reason).toBeInstanceOf(RequestTimeoutError);
      await clock.advance(4_000);
      await late.promise;
      const fast = await app.fetch('/fast');
      expect(await fast.json()).toEqual({ fast: true });
      expect(errors).toEqual([]);
    },
  },
  {
    area: 'timeout',
    name: 'leaves a request answered in time alone and keeps no timer once it is answered',
    async run(t) {
      const clock = new FakeClock(0);
      const app = await t.serve([
        t.m.timeout({ ms: 1_000, clock }),
        t.m.route('GET', '/', () => ({ json: { ok: 1 } })),
      ]);
      const res = await app.fetch('/');
      expect([res.status, await res.json()]).toEqual([200, { ok: 1 }]);
      expect(clock.pendingTimers).toBe(0);
    },
  },
];

export const loadSheddingScenarios: Scenario[] = [
  {
    area: 'loadShedding',
    name: 'answers 503 with Retry-After and temporary-reduced-capacity beyond maxConcurrent, and admits again once one ends',
    async run(t) {
      const release = deferred();
      const entered = counter();
      const both = deferred();
      const app = await t.serve([
        t.m.loadShedding({ maxConcurrent: 2, retryAfterMs: 2_000 }),
        t.m.route('GET', '/', async () => {
          entered.add();
          if (entered.runs === 2) both.resolve();
          await release.promise;
          return { json: { ok: true } };
        }),
      ]);
      const running = [app.fetch('/'), app.fetch('/')];
      await both.promise;
      const shed = await app.fetch('/');
      expect(shed.status).toBe(503);
      expect(shed.headers.get('retry-after')).toBe('2');
      expect(await problemOf(shed)).toMatchObject({ type: PROBLEM_TYPES.temporary_reduced_capacity, status: 503 });
      release.resolve();
      expect((await Promise.all(running)).map((r) => r.status)).toEqual([200, 200]);
      expect((await app.fetch('/')).status).toBe(200);
      expect(entered.runs).toBe(3);
    },
  },
  {
    area: 'loadShedding',
    name: 'queues up to queue requests for at most maxQueueMs, then sheds them',
    async run(t) {
      const clock = new FakeClock(0);
      const release = deferred();
      const entered = deferred();
      const app = await t.serve([
        t.m.loadShedding({ maxConcurrent: 1, queue: 1, maxQueueMs: 500, clock }),
        t.m.route('GET', '/', async () => {
          entered.resolve();
          await release.promise;
          return { json: { ok: true } };
        }),
      ]);
      const first = app.fetch('/');
      await entered.promise;
      const queued = app.fetch('/');
      const overflow = await app.fetch('/');
      expect(overflow.status).toBe(503);
      // The queued request is still waiting: its wait ends only on the clock.
      await clock.advance(500);
      expect((await queued).status).toBe(503);
      release.resolve();
      expect((await first).status).toBe(200);
    },
  },
  {
    area: 'loadShedding',
    name: 'with adaptive: true the limit starts below maxConcurrent and sheds the excess',
    async run(t) {
      const clock = new FakeClock(0);
      const release = deferred();
      const entered = counter();
      const app = await t.serve([
        t.m.loadShedding({ maxConcurrent: 8, adaptive: { initialLimit: 4 }, clock }),
        t.m.route('GET', '/', async () => {
          entered.add();
          await release.promise;
          return { json: {} };
        }),
      ]);
      // The first baseline is measured at half the initial limit: two at once, the others shed.
      const shed: number[] = [];
      const twoShed = deferred();
      const all = Array.from({ length: 4 }, () =>
        app.fetch('/').then((r) => {
          if (r.status === 503 && shed.push(r.status) === 2) twoShed.resolve();
          return r.status;
        }),
      );
      await twoShed.promise;
      expect(entered.runs).toBe(2);
      release.resolve();
      expect((await Promise.all(all)).sort()).toEqual([200, 200, 503, 503]);
    },
  },
];
