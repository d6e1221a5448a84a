import { once } from 'node:events';
import {
  fixedWindow,
  type HttpDecision,
  metrics,
  onHttpDecision,
  PROBLEM_TYPES,
  RequestTimeoutError,
  recentErrors,
} from '@resilience/core';
import { FakeClock } from '@resilience/core/testing';
import { expect } from 'vitest';
import { abandonedRequest, deferred, leftWhileWaiting } from '../context.js';
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
      // The timeout itself, once; the late answer raised nothing ("headers already sent").
      expect(errors).toEqual([expect.any(RequestTimeoutError)]);
    },
  },
  {
    area: 'timeout',
    name: 'a timed-out request is recorded once (request_timeout) in the collector and the recent errors, whether its handler ignores the signal or rejects with it',
    async run(t) {
      const clock = new FakeClock(0);
      const errors = recentErrors({ max: 10 });
      const stats = metrics();
      const entered = [deferred(), deferred()];
      const app = await t.serve([
        t.m.errorHandler({ recentErrors: errors, collector: stats, logger: t.logger() }),
        t.m.timeout({ ms: 1_000, clock }),
        t.m.route('GET', '/ignores', async () => {
          entered[0]!.resolve();
          await clock.sleep(5_000);
          return { json: { late: true } };
        }),
        t.m.route('GET', '/honours', async (r) => {
          const signal = r.signal();
          entered[1]!.resolve();
          await new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
          return {};
        }),
        t.m.route('GET', '/fast', () => ({ json: {} })),
      ]);
      const pending = ['ignores', 'honours'].map((id) => app.fetch(`/${id}`, { headers: { 'x-request-id': id } }));
      await Promise.all(entered.map((e) => e.promise));
      await clock.advance(1_000);
      expect((await Promise.all(pending)).map((r) => r.status)).toEqual([503, 503]);
      await clock.advance(4_000); // the handler that ignored the signal ends, late
      expect((await app.fetch('/fast')).status).toBe(200);
      const listed = errors.list().map((e) => [e.correlationId, e.status, e.code]);
      expect(listed.sort()).toEqual([
        ['honours', 503, 'request_timeout'],
        ['ignores', 503, 'request_timeout'],
      ]);
      expect(stats.snapshot().errorsByCategory.timeout).toBe(2);
    },
  },
  {
    area: 'timeout',
    name: "a timed-out HEAD is answered as the GET: the same 503 and headers, with the GET problem's Content-Length and no body",
    async run(t) {
      const clock = new FakeClock(0);
      const entered = { GET: deferred(), HEAD: deferred() };
      const waits = (method: 'GET' | 'HEAD') =>
        t.m.route(method, '/slow', async (r) => {
          const signal = r.signal();
          entered[method].resolve();
          await new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
          return {};
        });
      const app = await t.serve([
        t.m.errorHandler({ logger: t.logger() }),
        t.m.timeout({ ms: 1_000, clock }),
        waits('HEAD'),
        waits('GET'),
      ]);
      const answer = async (method: 'GET' | 'HEAD') => {
        const pending = app.fetch('/slow', { method, headers: { 'x-request-id': 'slow-1' } });
        await entered[method].promise;
        await clock.advance(1_000);
        const res = await pending;
        const NAMES = ['content-type', 'x-request-id', 'content-length'];
        return { status: res.status, headers: NAMES.map((n) => res.headers.get(n)), body: await res.text() };
      };
      const get = await answer('GET');
      const head = await answer('HEAD');
      expect(get.headers[2]).toBe(String(Buffer.byteLength(get.body)));
      expect(head).toEqual({ status: 503, headers: get.headers, body: '' });
    },
  },
  {
    area: 'timeout',
    name: 'a streamed response cut off by the timeout is recorded as a request timeout (503), not as a client that left (499)',
    async run(t) {
      const clock = new FakeClock(0);
      const errors = recentErrors({ max: 10 });
      const stats = metrics();
      const logger = t.logger();
      const started = deferred();
      const app = await t.serve([
        t.m.errorHandler({ recentErrors: errors, collector: stats, logger }),
        t.m.timeout({ ms: 1_000, clock }),
        t.m.route('GET', '/stream', () => ({
          chunks: (async function* () {
            yield 'first,';
            started.resolve();
            await clock.sleep(5_000);
            yield 'late';
          })(),
        })),
      ]);
      const res = await app.fetch('/stream', { headers: { 'x-request-id': 'cut-1' } });
      expect(res.status).toBe(200);
      const body = res.text().then(
        () => 'read',
        () => 'cut',
      );
      await started.promise;
      await clock.advance(1_000);
      expect(await body).toBe('cut'); // the connection is ended: nothing else can say it
      await clock.advance(4_000);
      expect(errors.list().map((e) => [e.correlationId, e.status, e.code])).toEqual([
        ['cut-1', 503, 'request_timeout'],
      ]);
      const snapshot = stats.snapshot();
      expect([snapshot.errorsByCategory.timeout, snapshot.errorsByCategory.cancelled ?? 0]).toEqual([1, 0]);
      expect(logger.lines).toEqual([
        expect.objectContaining({ level: 'error', fields: expect.objectContaining({ correlationId: 'cut-1' }) }),
      ]);
    },
  },
  {
    area: 'timeout',
    name: 'keeps ONE timer for all the requests in flight, and leaves the requests answered in time alone when it fires',
    async run(t) {
      const clock = new FakeClock(0);
      const errors = recentErrors({ max: 10 });
      const gate = deferred();
      const entered = [deferred(), deferred(), deferred()];
      let signals: AbortSignal[] = [];
      const app = await t.serve([
        t.m.errorHandler({ recentErrors: errors, logger: t.logger() }),
        t.m.timeout({ ms: 1_000, clock }),
        t.m.route('GET', '/wait', async (r) => {
          signals = [...signals, r.signal()];
          entered[signals.length - 1]!.resolve();
          await gate.promise;
          return { json: { ok: 1 } };
        }),
      ]);
      const pending = [0, 1, 2].map(() => app.fetch('/wait'));
      await Promise.all(entered.map((e) => e.promise));
      expect(clock.pendingTimers).toBe(1);
      gate.resolve();
      expect((await Promise.all(pending)).map((r) => r.status)).toEqual([200, 200, 200]);
      await clock.advance(1_000);
      expect(signals.map((s) => s.aborted)).toEqual([false, false, false]);
      expect(errors.list()).toEqual([]);
      expect(clock.pendingTimers).toBeLessThanOrEqual(1);
    },
  },
  {
    area: 'timeout',
    name: 'times each request out ms after it started, never earlier, though one timer serves them all',
    async run(t) {
      const clock = new FakeClock(0);
      const entered = [deferred<AbortSignal>(), deferred<AbortSignal>()];
      let count = 0;
      const app = await t.serve([
        t.m.timeout({ ms: 1_000, clock }),
        t.m.route('GET', '/wait', async (r) => {
          const signal = r.signal();
          entered[count++]!.resolve(signal);
          await new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
          return {};
        }),
      ]);
      const first = app.fetch('/wait');
      const a = await entered[0]!.promise;
      await clock.advance(600);
      const second = app.fetch('/wait');
      const b = await entered[1]!.promise;
      await clock.advance(399); // t = 999
      expect([a.aborted, b.aborted]).toEqual([false, false]);
      await clock.advance(1); // t = 1000: the first one's deadline
      expect([a.aborted, b.aborted]).toEqual([true, false]);
      expect((await first).status).toBe(503);
      await clock.advance(599); // t = 1599
      expect(b.aborted).toBe(false);
      await clock.advance(1); // t = 1600: 1000 ms after the second one started
      expect(b.aborted).toBe(true);
      expect((await second).status).toBe(503);
    },
  },
  {
    area: 'timeout',
    name: 'drops the deadline of a request whose client left: nothing is answered, decided or recorded for it at ms',
    async run(t) {
      const clock = new FakeClock(0);
      const errors = recentErrors({ max: 10 });
      const heard: HttpDecision[] = [];
      const stop = onHttpDecision((d) => heard.push(d));
      try {
        const waiting = leftWhileWaiting(t);
        const app = await t.serve([
          t.m.errorHandler({ recentErrors: errors, logger: t.logger() }),
          t.m.timeout({ ms: 1_000, clock }),
          waiting.route,
        ]);
        expect(((await waiting.leave(app.port)) as Error).name).toBe('ClientDisconnectedError');
        await clock.advance(1_000);
        expect(heard).toEqual([]);
        expect(errors.list().map((e) => e.status)).toEqual([499]);
      } finally {
        stop();
      }
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
    name: 'one loadShedding reached twice by a request (mounted on the app and on a router) takes one slot, never sheds the request itself',
    async run(t) {
      const release = deferred();
      const entered = deferred();
      const shedding = t.m.loadShedding({ maxConcurrent: 1 });
      const app = await t.serve([
        shedding,
        shedding,
        t.m.route('GET', '/', async () => {
          entered.resolve();
          await release.promise;
          return { json: { ok: true } };
        }),
      ]);
      const first = app.fetch('/');
      // Shed on its own slot, the first request never enters: its 503 fails the scenario at once.
      await Promise.race([entered.promise, first.then((res) => expect(res.status).toBe(200))]);
      expect((await app.fetch('/')).status).toBe(503); // the one slot is the first request's
      release.resolve();
      expect((await first).status).toBe(200);
      expect((await app.fetch('/')).status).toBe(200); // and it was freed, once
    },
  },
  {
    area: 'loadShedding',
    name: 'sheds are recorded each but logged as a warning without a stack at most once a minute, with how many went unlogged',
    async run(t) {
      const clock = new FakeClock(0);
      const logger = t.logger();
      const errors = recentErrors({ max: 10 });
      const release = deferred();
      const entered = deferred();
      const app = await t.serve([
        t.m.errorHandler({ recentErrors: errors, logger, clock }),
        t.m.loadShedding({ maxConcurrent: 1 }),
        t.m.route('GET', '/', async () => {
          entered.resolve();
          await release.promise;
          return { json: { ok: true } };
        }),
      ]);
      const first = app.fetch('/');
      await entered.promise;
      const shed = async (n: number) => {
        for (let i = 0; i < n; i++) expect((await app.fetch('/')).status).toBe(503);
      };
      await shed(3);
      expect(errors.list()).toHaveLength(3);
      expect(logger.lines.map((l) => [l.level, (l.fields as { unreported?: number }).unreported])).toEqual([
        ['warn', 0],
      ]);
      expect(JSON.stringify(logger.lines[0]!.fields)).not.toMatch(/stack|at /);
      await clock.advance(59_999);
      await shed(1);
      expect(logger.lines).toHaveLength(1);
      await clock.advance(1);
      await shed(1);
      expect(logger.lines.map((l) => (l.fields as { unreported?: number }).unreported)).toEqual([0, 3]);
      expect(logger.lines[1]!.message).toMatch(/bulkhead_full.*3 more/);
      release.resolve();
      expect((await first).status).toBe(200);
    },
  },
  {
    area: 'loadShedding',
    name: 'a queued request whose client left gives its place up: it is never admitted, and the next one is',
    async run(t) {
      const release = deferred();
      const entered = deferred();
      const recorded = deferred<unknown>();
      const paths: string[] = [];
      const app = await t.serve([
        t.m.errorHandler({
          recentErrors: {
            record: (e) => {
              recorded.resolve(e);
              return undefined as never;
            },
          },
          logger: t.logger(),
        }),
        t.m.loadShedding({ maxConcurrent: 1, queue: 1 }),
        t.m.route('GET', '/first', async (r) => {
          paths.push(r.path);
          entered.resolve();
          await release.promise;
          return { json: {} };
        }),
        ...['/gone', '/next'].map((path) => t.m.route('GET', path, (r) => ({ json: paths.push(r.path) }))),
      ]);
      const first = app.fetch('/first');
      await entered.promise;
      // Queued as the server hears of it (the app's listener runs first), then gone.
      await abandonedRequest(app.port, { path: '/gone' }, once(app.server, 'request'));
      expect(((await recorded.promise) as Error).name).toBe('ClientDisconnectedError');
      const next = app.fetch('/next'); // takes the place it left
      release.resolve();
      expect((await first).status).toBe(200);
      expect((await next).status).toBe(200);
      expect(paths).toEqual(['/first', '/next']);
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
    name: 'holds the slot of a request whose client left until its handler ends: leaving at once frees nothing',
    async run(t) {
      const release = deferred();
      const entered = deferred();
      const left = deferred();
      const runs = counter();
      const app = await t.serve([
        t.m.loadShedding({ maxConcurrent: 1 }),
        t.m.route('GET', '/', async (r) => {
          runs.add();
          if (runs.runs > 1) return { json: { ok: true } };
          r.signal().addEventListener('abort', () => left.resolve());
          entered.resolve();
          await release.promise; // works on, ignoring the signal
          return { json: { late: true } };
        }),
      ]);
      await abandonedRequest(app.port, { path: '/' }, entered.promise);
      await left.promise; // the server has seen the client go
      expect((await app.fetch('/')).status).toBe(503);
      expect(runs.runs).toBe(1);
      release.resolve();
      expect((await app.fetch('/')).status).toBe(200);
      expect(runs.runs).toBe(2);
    },
  },
  // The same with loadShedding after timeout (as mounted on Express) and before it (Koa's chain then settles at the deadline).
  ...(['after', 'before'] as const).map(
    (order): Scenario => ({
      area: 'loadShedding',
      name: `${order === 'before' ? 'mounted before timeout too, holds' : 'holds'} the slot of a timed-out request until its handler ends: the 503 on time frees nothing, a handler that fails with the signal frees it then`,
      async run(t) {
        const clock = new FakeClock(0);
        const release = deferred();
        const entered = [deferred(), deferred()];
        const runs = counter();
        const shedding = t.m.loadShedding({ maxConcurrent: 1, clock });
        const timeout = t.m.timeout({ ms: 1_000, clock });
        const app = await t.serve([
          t.m.errorHandler({ logger: t.logger() }),
          ...(order === 'before' ? [shedding, timeout] : [timeout, shedding]),
          t.m.route('GET', '/', async (r) => {
            runs.add();
            if (runs.runs === 1) {
              entered[0]!.resolve();
              await release.promise; // works on past its deadline, ignoring the signal
              return { json: { late: true } };
            }
            const signal = r.signal();
            entered[1]!.resolve();
            // Gives up when the signal aborts, failing with its reason.
            return await new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
          }),
          t.m.route('GET', '/now', () => ({ json: { ok: true } })),
        ]);
        const ignores = app.fetch('/');
        await entered[0]!.promise;
        await clock.advance(1_000);
        expect((await ignores).status).toBe(503);
        expect((await app.fetch('/now')).status).toBe(503); // shed: the handler still runs
        release.resolve();
        const honours = app.fetch('/');
        await entered[1]!.promise;
        await clock.advance(1_000);
        expect((await honours).status).toBe(503);
        expect((await app.fetch('/now')).status).toBe(200);
        expect(runs.runs).toBe(2);
      },
    }),
  ),
  {
    area: 'loadShedding',
    name: 'frees the slot of a timed-out request whose handler answers as its signal aborts, before the 503 has closed',
    async run(t) {
      const clock = new FakeClock(0);
      const entered = deferred();
      const app = await t.serve([
        t.m.errorHandler({ logger: t.logger() }),
        t.m.timeout({ ms: 1_000, clock }),
        t.m.loadShedding({ maxConcurrent: 1, clock }),
        t.m.route('GET', '/', async (r) => {
          const signal = r.signal();
          entered.resolve();
          // Answers a moment after the abort: after the 503 has gone, before it has closed.
          await new Promise((resolve) => signal.addEventListener('abort', resolve));
          return { json: { late: true } };
        }),
        t.m.route('GET', '/now', () => ({ json: { ok: true } })),
      ]);
      const pending = app.fetch('/');
      await entered.promise;
      await clock.advance(1_000);
      expect((await pending).status).toBe(503);
      expect((await app.fetch('/now')).status).toBe(200);
    },
  },
  {
    area: 'loadShedding',
    name: "a request whose client left teaches the adaptive limit nothing: its latency is the client's patience, not the load",
    async run(t) {
      const clock = new FakeClock(0);
      const waiting = leftWhileWaiting(t);
      const release = deferred();
      const entered = counter();
      let shed = 0;
      const decided = deferred(); // each of the 3 requests entered the handler or was shed
      const check = () => entered.runs + shed === 3 && decided.resolve();
      const app = await t.serve([
        // One sample would end the first baseline and let 4 run at once instead of 2.
        t.m.loadShedding({ maxConcurrent: 8, adaptive: { initialLimit: 4, baselineSamples: 1 }, clock }),
        waiting.route,
        t.m.route('GET', '/', async () => {
          entered.add();
          check();
          await release.promise;
          return { json: {} };
        }),
      ]);
      expect(((await waiting.leave(app.port)) as Error).name).toBe('ClientDisconnectedError');
      const all = Array.from({ length: 3 }, () =>
        app.fetch('/').then((r) => {
          if (r.status === 503) shed++;
          check();
          return r.status;
        }),
      );
      await decided.promise;
      expect([entered.runs, shed]).toEqual([2, 1]);
      release.resolve();
      expect((await Promise.all(all)).sort()).toEqual([200, 200, 503]);
    },
  },
  ...(['before', 'after'] as const).map(
    (order): Scenario => ({
      area: 'loadShedding',
      name: `mounted ${order} timeout, a timed-out request is one adaptive sample, of its handler's whole run: none at the 503, one when the handler ends`,
      async run(t) {
        const clock = new FakeClock(0);
        const release = deferred();
        const slow = deferred();
        const gate = deferred();
        const entered = counter();
        let shed = 0;
        let decided = deferred(); // the requests of a burst each entered the handler or were shed
        let burst = 0;
        const check = () => entered.runs + shed === burst && decided.resolve();
        // One sample ends the first baseline, measured at half the initial limit: 2 at once, then 4.
        const shedding = t.m.loadShedding({
          maxConcurrent: 8,
          adaptive: { initialLimit: 4, baselineSamples: 1 },
          clock,
        });
        const timeout = t.m.timeout({ ms: 1_000, clock });
        const app = await t.serve([
          t.m.errorHandler({ logger: t.logger() }),
          ...(order === 'before' ? [shedding, timeout] : [timeout, shedding]),
          t.m.route('GET', '/slow', async () => {
            slow.resolve();
            await release.promise; // works on past its deadline, ignoring the signal
            return { json: { late: true } };
          }),
          t.m.route('GET', '/wait', async () => {
            entered.add();
            check();
            await gate.promise;
            return { json: {} };
          }),
        ]);
        const fire = (n: number) => {
          burst += n;
          return Array.from({ length: n }, () =>
            app.fetch('/wait').then((r) => {
              if (r.status === 503) shed++;
              check();
              return r.status;
            }),
          );
        };
        const timedOut = app.fetch('/slow');
        await slow.promise;
        await clock.advance(1_000);
        expect((await timedOut).status).toBe(503);
        // Still measuring the baseline (no sample yet), with the timed-out handler in one of its 2 slots.
        const first = fire(2);
        await decided.promise;
        expect([entered.runs, shed]).toEqual([1, 1]);
        release.resolve(); // the handler ends: its run is the baseline's one sample, and its slot is free
        decided = deferred();
        const second = fire(3);
        await decided.promise;
        expect([entered.runs, shed]).toEqual([4, 1]); // a limit of 4 now: 1 still running + 3
        gate.resolve();
        expect([...(await Promise.all(first)), ...(await Promise.all(second))].sort()).toEqual([
          200, 200, 200, 200, 503,
        ]);
      },
    }),
  ),
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
