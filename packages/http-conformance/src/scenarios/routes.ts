import {
  alerting,
  BreakerRegistry,
  type Clock,
  ConfigurationError,
  circuitBreaker,
  consecutive,
  health,
  metrics,
  recentErrors,
  rule,
} from '@resilience/core';
import { FakeClock } from '@resilience/core/testing';
import { registerResilienceMetrics } from '@resilience/prometheus';
import { Registry } from 'prom-client';
import { expect } from 'vitest';
import { problemOf, type Scenario } from '../scenario.js';

/** A registry holding one breaker, `payments`, that opens on one failure and half-opens after 1 s. */
export function paymentsBreaker(clock?: Clock) {
  const breakers = new BreakerRegistry();
  const payments = circuitBreaker({
    strategy: consecutive(1),
    halfOpenAfter: 1_000,
    name: 'payments',
    registry: breakers,
    ...(clock === undefined ? {} : { clock }),
  });
  return { breakers, payments };
}

export const routeScenarios: Scenario[] = [
  {
    area: 'healthRoutes',
    name: 'serves /health, /health/live and /health/ready as health+json: a dependency outage fails readiness, never liveness',
    async run(t) {
      let dbUp = true;
      // The registry's clock stands still: a millisecond between the run and the answer would
      // leave the report 4 999 ms of its cache, max-age=4 (see the max-age scenario below).
      const probes = health({ cacheMs: 5_000, clock: new FakeClock(0) })
        .register('postgres', () => dbUp, { critical: true, componentType: 'datastore' })
        .register('event-loop', () => true, { kind: 'liveness' });
      const app = await t.serve([t.m.healthRoutes(probes, { prefix: '/ops', serviceId: 'orders' })]);
      const all = await app.fetch('/ops/health');
      expect(all.status).toBe(200);
      expect(all.headers.get('content-type')).toBe('application/health+json');
      expect(all.headers.get('cache-control')).toBe('max-age=5');
      const body = (await all.json()) as { status: string; serviceId: string; checks: Record<string, unknown[]> };
      expect(body).toMatchObject({ status: 'pass', serviceId: 'orders' });
      expect(Object.keys(body.checks).sort()).toEqual(['event-loop:responseTime', 'postgres:responseTime']);
      expect(body.checks['postgres:responseTime']).toEqual([
        expect.objectContaining({ status: 'pass', componentType: 'datastore' }),
      ]);
      dbUp = false;
      const fresh = health()
        .register('postgres', () => dbUp, { critical: true })
        .register('loop', () => true, { kind: 'liveness' });
      const down = await t.serve([t.m.healthRoutes(fresh)]);
      const ready = await down.fetch('/health/ready');
      expect([ready.status, ((await ready.json()) as { status: string }).status]).toEqual([503, 'fail']);
      expect((await down.fetch('/health/live')).status).toBe(200);
      expect((await down.fetch('/health')).status).toBe(503);
      expect((await down.fetch('/health/other')).status).toBe(404);
    },
  },
  {
    area: 'healthRoutes',
    name: 'a passing check that reports a BigInt (an event-loop lag from process.hrtime.bigint()) passes: its value goes out as a number, never a 500 to the probe',
    async run(t) {
      const probes = health()
        .register('event-loop:lag', () => ({ observedValue: 3_000_000n, observedUnit: 'ns' }), { kind: 'liveness' })
        .register('orders:count', () => ({ observedValue: 2n ** 64n }));
      const app = await t.serve([t.m.healthRoutes(probes), t.m.adminRoutes({ authorize: () => true, health: probes })]);
      for (const path of ['/health/live', '/health', '/api/resilience/health']) {
        const res = await app.fetch(path);
        const body = (await res.json()) as { status: string; checks: Record<string, { observedValue: unknown }[]> };
        expect([path, res.status, body.status, body.checks['event-loop:lag']?.[0]?.observedValue]).toEqual([
          path,
          200,
          'pass',
          3_000_000,
        ]);
        if (path !== '/health/live') expect(body.checks['orders:count']?.[0]?.observedValue).toBe(2 ** 64);
      }
    },
  },
  {
    area: 'healthRoutes',
    name: "a cached report's Cache-Control max-age is what it has left of cacheMs, not all of it, on adminRoutes too",
    async run(t) {
      const clock = new FakeClock(0);
      let runs = 0;
      const probes = health({ cacheMs: 5_000, clock }).register('postgres', () => {
        runs++;
        return true;
      });
      const app = await t.serve([t.m.healthRoutes(probes), t.m.adminRoutes({ authorize: () => true, health: probes })]);
      const cacheControl = async (path: string) => {
        const res = await app.fetch(path);
        await res.text();
        return [res.status, res.headers.get('cache-control')];
      };
      expect(await cacheControl('/health')).toEqual([200, 'max-age=5']);
      await clock.advance(3_200);
      expect(await cacheControl('/health')).toEqual([200, 'max-age=1']);
      expect(await cacheControl('/api/resilience/health')).toEqual([200, 'max-age=1']);
      await clock.advance(799);
      expect(await cacheControl('/health')).toEqual([200, 'max-age=1']);
      await clock.advance(1_000);
      expect(await cacheControl('/health')).toEqual([200, 'max-age=0']);
      expect(runs).toBe(1);
      await clock.advance(1);
      expect(await cacheControl('/health')).toEqual([200, 'max-age=5']);
      expect(runs).toBe(2);
    },
  },
  {
    area: 'healthRoutes',
    name: "a cached report's checks carry the time their reading was taken, not the time it is served",
    async run(t) {
      const clock = new FakeClock(0);
      const probes = health({ cacheMs: 5_000, clock }).register('postgres', () => true);
      const app = await t.serve([t.m.healthRoutes(probes, { clock })]);
      const time = async () => {
        const body = (await (await app.fetch('/health')).json()) as { checks: Record<string, { time: string }[]> };
        return body.checks['postgres:responseTime']?.[0]?.time;
      };
      expect(await time()).toBe('1970-01-01T00:00:00.000Z');
      await clock.advance(3_200);
      // Served from the cache: the draft's `time` is when the observedValue was recorded.
      expect(await time()).toBe('1970-01-01T00:00:00.000Z');
      await clock.advance(1_801);
      expect(await time()).toBe('1970-01-01T00:00:05.001Z');
    },
  },
  {
    area: 'healthRoutes',
    name: 'on a schedule (start()), the checks carry the time of the round they were read in, not the time the report is served; with cacheMs too',
    async run(t) {
      for (const cacheMs of [0, 5_000]) {
        const clock = new FakeClock(0);
        const probes = health({ cacheMs, clock }).register('postgres', async () => {
          await clock.sleep(200); // the check takes 200 ms: its reading is when it ends
          return true;
        });
        probes.start({ intervalMs: 30_000 });
        const app = await t.serve([t.m.healthRoutes(probes, { clock })]);
        try {
          await clock.advance(200);
          await clock.advance(10_000);
          const res = await app.fetch('/health');
          const body = (await res.json()) as { checks: Record<string, { time: string }[]> };
          expect([cacheMs, body.checks['postgres:responseTime']?.[0]?.time]).toEqual([
            cacheMs,
            '1970-01-01T00:00:00.200Z',
          ]);
          // Its freshness is cacheMs from the report (a round is read until the next one).
          expect(res.headers.get('cache-control')).toBe(`max-age=${cacheMs / 1_000}`);
          // The next round (ran at 30.2 s, read at 30.4 s) is the one served after it.
          await clock.advance(20_400);
          const next = (await (await app.fetch('/health')).json()) as { checks: Record<string, { time: string }[]> };
          expect(next.checks['postgres:responseTime']?.[0]?.time).toBe('1970-01-01T00:00:30.400Z');
        } finally {
          probes.stop();
        }
      }
    },
  },
  {
    area: 'healthRoutes',
    name: "a failing check's error message (hosts, users) stays on the server unless expose: a check's own output and the admin route still tell it",
    async run(t) {
      const secret = 'connect ECONNREFUSED 10.0.3.4:5432 user=orders';
      const probes = health()
        .register(
          'postgres',
          () => {
            throw new Error(secret);
          },
          { critical: true },
        )
        .register('replica', () => ({ status: 'warn', output: 'lag 30 s' }))
        .register('cache', () => false);
      const app = await t.serve([
        t.m.healthRoutes(probes),
        t.m.healthRoutes(probes, { prefix: '/internal', expose: true }),
        t.m.adminRoutes({ authorize: () => true, health: probes }),
      ]);
      const checksOf = async (path: string) => {
        const res = await app.fetch(path);
        expect([path, res.status]).toEqual([path, 503]);
        return ((await res.json()) as { checks: Record<string, Array<{ status: string; output?: string }>> }).checks;
      };
      for (const path of ['/health', '/health/ready']) {
        expect(await checksOf(path)).toMatchObject({
          'postgres:responseTime': [{ status: 'fail' }],
          'replica:responseTime': [{ status: 'warn', output: 'lag 30 s' }],
          'cache:responseTime': [{ status: 'fail' }],
        });
        expect(JSON.stringify(await checksOf(path))).not.toMatch(/10\.0\.3\.4|user=|returned false/);
      }
      for (const path of ['/internal/health', '/api/resilience/health']) {
        expect((await checksOf(path))['postgres:responseTime']).toEqual([
          expect.objectContaining({ status: 'fail', output: secret }),
        ]);
      }
    },
  },
  {
    area: 'metricsRoute',
    name: 'serves a prom-client registry with the resilience metrics in the Prometheus text format',
    async run(t) {
      const stats = metrics();
      stats.recordCall({ latencyMs: 12, ok: true });
      stats.recordCall({ latencyMs: 40, ok: false });
      const registry = new Registry();
      registerResilienceMetrics(registry, { collectors: stats });
      const app = await t.serve([t.m.metricsRoute({ registry })]);
      const res = await app.fetch('/metrics');
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe(registry.contentType);
      const text = await res.text();
      expect(text).toMatch(/^resilience_calls_total\{outcome="ok"\} 1$/m);
      expect(text).toMatch(/^resilience_calls_total\{outcome="failed"\} 1$/m);
      expect((await app.fetch('/metrics/other')).status).toBe(404);
    },
  },
  {
    area: 'adminRoutes',
    name: 'refuses to be built without authorize (ConfigurationError naming it)',
    async run(t) {
      expect(() => t.m.adminRoutes({} as never)).toThrow(ConfigurationError);
      expect(() => t.m.adminRoutes({} as never)).toThrow(/authorize/);
    },
  },
  {
    area: 'adminRoutes',
    name: 'answers 401 without an Authorization header and 403 with one; a refused request changes nothing',
    async run(t) {
      const { breakers, payments } = paymentsBreaker();
      const app = await t.serve([
        t.m.adminRoutes({ authorize: (c) => t.m.header(c, 'authorization') === 'Bearer ops', breakers }),
        t.m.adminRoutes({ prefix: '/strict', authorize: () => 403, breakers }),
      ]);
      const anonymous = await app.fetch('/api/resilience/circuit-breakers/payments/isolate', { method: 'POST' });
      expect(anonymous.status).toBe(401);
      expect(await problemOf(anonymous)).toMatchObject({ status: 401, category: 'auth' });
      const wrong = await app.fetch('/api/resilience/circuit-breakers/payments/isolate', {
        method: 'POST',
        headers: { authorization: 'Bearer guest' },
      });
      expect(wrong.status).toBe(403);
      expect((await app.fetch('/strict/circuit-breakers')).status).toBe(403);
      expect(payments.state).toBe('closed');
      expect((await app.fetch('/api/resilience/nothing-here')).status).toBe(401);
    },
  },
  {
    area: 'adminRoutes',
    name: "every 401 carries WWW-Authenticate (RFC 9110): the admin routes' challenge, and an error's own or the default through errorHandler",
    async run(t) {
      const unauthorized = (headers?: Record<string, string>) =>
        Object.assign(new Error('who are you?'), headers === undefined ? { status: 401 } : { status: 401, headers });
      const app = await t.serve([
        t.m.errorHandler({ logger: t.logger() }),
        t.m.adminRoutes({ authorize: () => false }),
        t.m.adminRoutes({ prefix: '/ops', authorize: () => 401, challenge: 'Basic realm="ops"' }),
        t.m.route('GET', '/me', () => {
          throw unauthorized();
        }),
        t.m.route('GET', '/shop', () => {
          throw unauthorized({ 'WWW-Authenticate': 'Basic realm="shop"' });
        }),
      ]);
      const challenges: Array<[number, string | null]> = [];
      for (const path of ['/api/resilience/circuit-breakers', '/ops/metrics', '/me', '/shop']) {
        const res = await app.fetch(path);
        challenges.push([res.status, res.headers.get('www-authenticate')]);
        expect(await problemOf(res)).toMatchObject({ status: 401, category: 'auth' });
      }
      expect(challenges).toEqual([
        [401, 'Bearer'],
        [401, 'Basic realm="ops"'],
        [401, 'Bearer'],
        [401, 'Basic realm="shop"'],
      ]);
      // A 403 is no challenge.
      const refused = await app.fetch('/api/resilience/circuit-breakers', { headers: { authorization: 'Bearer x' } });
      expect([refused.status, refused.headers.get('www-authenticate')]).toEqual([403, null]);
    },
  },
  {
    area: 'adminRoutes',
    name: 'lists, reads, isolates and resets breakers, serves metrics, error rates, recent errors, alerts and health; unknown names 404',
    async run(t) {
      const clock = new FakeClock(0);
      const { breakers, payments } = paymentsBreaker(clock);
      const api = metrics({ clock });
      api.recordCall({ latencyMs: 5, ok: true });
      api.recordCall({ latencyMs: 5, ok: false });
      const errors = recentErrors({ clock });
      errors.record(new Error('upstream reset'), { correlationId: 'c-1', status: 502 });
      const alerts = alerting({
        rules: [rule({ name: 'errors', metric: 'errorRate', op: 'gt', threshold: 0.1, severity: 'critical' })],
        clock,
      });
      await alerts.evaluate(api.snapshot());
      const probes = health().register('db', () => true);
      const app = await t.serve([
        t.m.adminRoutes({
          authorize: () => true,
          breakers,
          collectors: { api },
          recentErrors: errors,
          alerting: alerts,
          health: probes,
        }),
      ]);
      const get = async (path: string, method = 'GET') => {
        const res = await app.fetch(`/api/resilience${path}`, { method });
        return { status: res.status, body: (await res.json()) as Record<string, unknown> };
      };
      expect(await get('/circuit-breakers')).toEqual({
        status: 200,
        body: { breakers: [{ name: 'payments', state: 'closed', retryAfterMs: 0, count: 1 }] },
      });
      expect((await get('/circuit-breakers/payments/isolate', 'POST')).body).toMatchObject({
        state: 'isolated',
        retryAfterMs: null,
      });
      expect(payments.state).toBe('isolated');
      expect((await get('/circuit-breakers/payments')).body).toMatchObject({ name: 'payments', state: 'isolated' });
      expect((await get('/circuit-breakers/payments/reset', 'POST')).body).toMatchObject({ state: 'closed' });
      expect(payments.state).toBe('closed');
      expect((await get('/metrics')).body).toMatchObject({ collectors: { api: { calls: 2, failed: 1 } } });
      expect((await get('/metrics/api')).body).toMatchObject({ name: 'api', calls: 2 });
      expect((await get('/metrics/api/error-rate')).body).toEqual({ name: 'api', errorRate: 0.5, calls: 2, failed: 1 });
      expect((await get('/errors/recent')).body).toEqual({
        errors: [expect.objectContaining({ correlationId: 'c-1', status: 502 })],
      });
      expect((await get('/alerts')).body).toMatchObject({
        active: [expect.objectContaining({ name: 'errors', status: 'firing' })],
      });
      expect((await get('/health')).body).toMatchObject({ status: 'pass' });
      expect((await get('/metrics/api/reset', 'POST')).status).toBe(200);
      expect(api.snapshot().calls).toBe(0);
      for (const path of [
        '/circuit-breakers/nope',
        '/circuit-breakers/nope/reset',
        '/metrics/nope',
        '/metrics/nope/error-rate',
        '/unknown',
      ]) {
        const res = await app.fetch(`/api/resilience${path}`, { method: path.endsWith('reset') ? 'POST' : 'GET' });
        expect([path, res.status]).toEqual([path, 404]);
        expect(await problemOf(res)).toMatchObject({ status: 404 });
      }
    },
  },
  {
    area: 'adminRoutes',
    name: 'a route asked with a method it does not take answers 405 with Allow (RFC 9110), not 404, and changes nothing',
    async run(t) {
      const { breakers, payments } = paymentsBreaker();
      const api = metrics();
      const app = await t.serve([t.m.adminRoutes({ authorize: () => true, breakers, collectors: { api } })]);
      for (const [method, path, allow] of [
        ['GET', '/circuit-breakers/payments/isolate', 'POST'],
        ['PUT', '/circuit-breakers/payments/reset', 'POST'],
        ['DELETE', '/circuit-breakers/payments', 'GET, HEAD'],
        ['POST', '/circuit-breakers', 'GET, HEAD'],
        ['POST', '/metrics/api', 'GET, HEAD'],
        ['GET', '/metrics/api/reset', 'POST'],
      ] as const) {
        const res = await app.fetch(`/api/resilience${path}`, { method });
        expect([method, path, res.status, res.headers.get('allow')]).toEqual([method, path, 405, allow]);
        expect(await problemOf(res)).toMatchObject({ status: 405 });
      }
      expect(payments.state).toBe('closed');
      // A breaker of the list that cannot be reset or isolated (only name, state, retryAfterMs):
      // 405 with an empty Allow, the route taking no method for it.
      const readOnly = { name: 'legacy', state: 'open', retryAfterMs: 5_000 } as const;
      const listed = await t.serve([t.m.adminRoutes({ authorize: () => true, breakers: [readOnly] })]);
      for (const action of ['reset', 'isolate']) {
        const res = await listed.fetch(`/api/resilience/circuit-breakers/legacy/${action}`, { method: 'POST' });
        expect([action, res.status, res.headers.get('allow')]).toEqual([action, 405, '']);
      }
    },
  },
  {
    area: 'adminRoutes',
    name: 'its refusals (401, 403, 404, 405: a 404 or 405 is heuristically cacheable, RFC 9110 §15.1) are Cache-Control: no-store, as its answers are',
    async run(t) {
      const { breakers } = paymentsBreaker();
      const app = await t.serve([
        t.m.adminRoutes({ authorize: (c) => t.m.header(c, 'authorization') === 'Bearer ops', breakers }),
      ]);
      const ops = { authorization: 'Bearer ops' };
      for (const [method, path, headers, status] of [
        ['GET', '/circuit-breakers', ops, 200],
        ['GET', '/circuit-breakers', {}, 401],
        ['GET', '/circuit-breakers', { authorization: 'Bearer guest' }, 403],
        ['GET', '/circuit-breakers/not-yet-made', ops, 404],
        ['GET', '/nothing-here', ops, 404],
        ['HEAD', '/circuit-breakers/payments/reset', ops, 405],
      ] as const) {
        const res = await app.fetch(`/api/resilience${path}`, { method, headers });
        await res.arrayBuffer();
        expect([path, res.status, res.headers.get('cache-control')]).toEqual([path, status, 'no-store']);
      }
    },
  },
  {
    area: 'adminRoutes',
    name: 'a path under the prefix is refused before it is read, and only the documented form acts: no empty segment, at most one trailing slash',
    async run(t) {
      const { breakers, payments } = paymentsBreaker();
      const app = await t.serve([
        t.m.adminRoutes({ authorize: (c) => t.m.header(c, 'authorization') === 'Bearer ops', breakers }),
      ]);
      // Refused whatever follows the prefix, a malformed escape included.
      for (const path of ['/circuit-breakers/%E0%A4%A/isolate', '/%zz', '/circuit-breakers/payments/isolate']) {
        const res = await app.fetch(`/api/resilience${path}`, { method: 'POST' });
        expect([path, res.status]).toEqual([path, 401]);
      }
      const ops = { authorization: 'Bearer ops' };
      for (const path of [
        '//circuit-breakers/payments/isolate',
        '/circuit-breakers//payments/isolate',
        '/circuit-breakers/payments/isolate//',
        '/circuit-breakers/payments//isolate',
      ]) {
        const res = await app.fetch(`/api/resilience${path}`, { method: 'POST', headers: ops });
        expect([path, res.status]).toEqual([path, 404]);
        expect(await problemOf(res)).toMatchObject({ status: 404 });
      }
      expect(payments.state).toBe('closed');
      expect((await app.fetch('/api/resilience/circuit-breakers//', { headers: ops })).status).toBe(404);
      // An escaped slash stays part of the name.
      expect((await app.fetch('/api/resilience/circuit-breakers/pay%2Fments', { headers: ops })).status).toBe(404);
      const isolated = await app.fetch('/api/resilience/circuit-breakers/payments/isolate', {
        method: 'POST',
        headers: ops,
      });
      expect([isolated.status, payments.state]).toEqual([200, 'isolated']);
    },
  },
];
