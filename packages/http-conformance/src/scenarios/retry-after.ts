// Every 503 the toolkit answers, and its Retry-After: sent when a retry time is known (a shed:
// the configured retryAfterMs; an open breaker: until its next probe), left out when none is
// (a store down, a request timeout, an isolated breaker, a failing or shutting-down readiness).
import { BrokenCircuitError, fixedWindow, health, IsolatedCircuitError } from '@resilience/core';
import { FakeClock } from '@resilience/core/testing';
import { expect } from 'vitest';
import { deferred } from '../context.js';
import { counter, type Scenario } from '../scenario.js';
import { downStore } from './rate-limit.js';

const ok = () => ({ json: { ok: true } });
const post = { method: 'POST', headers: { 'idempotency-key': '"order-7f3c9a2e"', 'content-type': 'application/json' } };

export const retryAfterScenarios: Scenario[] = [
  {
    area: 'errorHandler',
    name: '503 answers carry Retry-After only when a retry time is known: an open breaker yes; a store down, a request timeout, an isolated breaker, a failing readiness no',
    async run(t) {
      const clock = new FakeClock(0);
      const entered = deferred();
      const probes = health().register('db', () => false, { kind: 'readiness', critical: true });
      const app = await t.serve([
        t.m.errorHandler({ logger: t.logger() }),
        t.m.healthRoutes(probes),
        t.m.route('GET', '/open', () => {
          throw new BrokenCircuitError(undefined, 29_001);
        }),
        t.m.route('GET', '/isolated', () => {
          throw new IsolatedCircuitError();
        }),
      ]);
      const limited = await t.serve([
        t.m.errorHandler({ logger: t.logger() }),
        t.m.rateLimit({
          algorithm: fixedWindow({ limit: 5, windowMs: 60_000 }),
          store: downStore(),
          onStoreError: 'closed',
          logger: t.logger(),
        }),
        t.m.route('GET', '/', ok),
      ]);
      const keyed = await t.serve([
        t.m.errorHandler({ logger: t.logger() }),
        t.m.idempotency({ store: downStore() }),
        t.m.route('POST', '/', ok),
      ]);
      const slow = await t.serve([
        t.m.errorHandler({ logger: t.logger() }),
        t.m.timeout({ ms: 1_000, clock }),
        t.m.route('GET', '/', async () => {
          entered.resolve();
          await new Promise(() => {});
          return ok();
        }),
      ]);
      const timedOut = slow.fetch('/');
      await entered.promise;
      await clock.advance(1_000);
      const answers = {
        open: await app.fetch('/open'),
        isolated: await app.fetch('/isolated'),
        readiness: await app.fetch('/health/ready'),
        rateLimitStoreDown: await limited.fetch('/'),
        idempotencyStoreDown: await keyed.fetch('/', { ...post, body: '{}' }),
        requestTimeout: await timedOut,
      };
      const seen = Object.fromEntries(
        Object.entries(answers).map(([name, res]) => [name, [res.status, res.headers.get('retry-after')]]),
      );
      expect(seen).toEqual({
        open: [503, '30'],
        isolated: [503, null],
        readiness: [503, null],
        rateLimitStoreDown: [503, null],
        idempotencyStoreDown: [503, null],
        requestTimeout: [503, null],
      });
    },
  },
  {
    area: 'loadShedding',
    name: 'every shed 503 says Retry-After: beyond the queue, after maxQueueMs in it, and to a HEAD; a readiness failing for a shutdown says none',
    async run(t) {
      const clock = new FakeClock(0);
      const release = deferred();
      const entered = deferred();
      const runs = counter();
      const probes = health();
      const app = await t.serve([
        t.m.healthRoutes(probes),
        t.m.loadShedding({ maxConcurrent: 1, queue: 1, maxQueueMs: 500, retryAfterMs: 1_500, clock }),
        t.m.route('GET', '/', async () => {
          runs.add();
          entered.resolve();
          await release.promise;
          return ok();
        }),
      ]);
      const first = app.fetch('/');
      await entered.promise;
      const queued = app.fetch('/');
      const beyond = await app.fetch('/', { method: 'HEAD' });
      await clock.advance(500);
      const waitedOut = await queued;
      expect([beyond.status, beyond.headers.get('retry-after')]).toEqual([503, '2']);
      expect([waitedOut.status, waitedOut.headers.get('retry-after')]).toEqual([503, '2']);
      const shutdown = t.m.gracefulShutdown(app.server, {
        signals: [],
        health: probes,
        drainDelayMs: 60_000,
        timeoutMs: 120_000,
        exit: () => {},
        logger: t.logger(),
        clock: new FakeClock(0),
      });
      void shutdown.shutdown('test');
      // The instance is going away: no time at which it will be ready again.
      const ready = await app.fetch('/health/ready', { headers: { connection: 'close' } });
      expect([ready.status, ready.headers.get('retry-after')]).toEqual([503, null]);
      release.resolve();
      expect((await first).status).toBe(200);
      expect(runs.runs).toBe(1);
      shutdown.dispose();
    },
  },
];
