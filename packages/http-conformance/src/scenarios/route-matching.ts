// How the built-in routes (healthRoutes, metricsRoute, adminRoutes) match paths and methods:
// as a route of Express's default (non-strict) router would — one trailing slash, a query
// string, HEAD for GET — and never answering OPTIONS, so the app's CORS middleware does.
import { health, metrics } from '@resilience/core';
import { FakeClock } from '@resilience/core/testing';
import { registerResilienceMetrics } from '@resilience/prometheus';
import { Registry } from 'prom-client';
import { expect } from 'vitest';
import type { Served } from '../context.js';
import type { Scenario } from '../scenario.js';
import { paymentsBreaker } from './routes.js';

/** `[path, status]` of each path asked with `init` (the body read, so the connection is reused). */
async function statuses(app: Served, paths: readonly string[], init: RequestInit = {}) {
  const out: Array<[string, number]> = [];
  for (const path of paths) {
    const res = await app.fetch(path, init);
    await res.arrayBuffer();
    out.push([path, res.status]);
  }
  return out;
}

const each = (paths: readonly string[], status: number) => paths.map((p): [string, number] => [p, status]);

export const routeMatchingScenarios: Scenario[] = [
  {
    area: 'healthRoutes',
    name: 'a path matches with one trailing slash and with a query string, as on a default Express router; /healthz, /health/x, a doubled slash or another case pass on',
    async run(t) {
      const probes = health().register('event-loop', () => true, { kind: 'liveness' });
      const app = await t.serve([t.m.healthRoutes(probes), t.m.healthRoutes(probes, { prefix: '/ops' })]);
      const matched = [
        '/health/',
        '/health/live/',
        '/health/ready/',
        '/health?x=1',
        '/health/?probe=lb',
        '/health/live/?x=/',
        '/ops/health/ready/',
      ];
      expect(await statuses(app, matched)).toEqual(each(matched, 200));
      const res = await app.fetch('/health/live/');
      expect(res.headers.get('content-type')).toBe('application/health+json');
      expect(await res.json()).toMatchObject({ status: 'pass' });
      const passed = [
        '/healthz',
        '/health/x',
        '/health//',
        '/health/live//',
        '//health',
        '/HEALTH',
        '/ops/health/x/',
        '/ops/',
      ];
      expect(await statuses(app, passed)).toEqual(each(passed, 404));
    },
  },
  {
    area: 'metricsRoute',
    name: 'the metrics path matches with one trailing slash and with a query string; /metricsx, /metrics/x or a doubled slash pass on',
    async run(t) {
      const registry = new Registry();
      registerResilienceMetrics(registry, { collectors: metrics() });
      const app = await t.serve([t.m.metricsRoute({ registry }), t.m.metricsRoute({ registry, path: '/ops/prom/' })]);
      const matched = ['/metrics/', '/metrics?x=1', '/metrics/?name[]=a', '/ops/prom', '/ops/prom/', '/ops/prom?x'];
      expect(await statuses(app, matched)).toEqual(each(matched, 200));
      const res = await app.fetch('/metrics/');
      expect(res.headers.get('content-type')).toBe(registry.contentType);
      expect(await res.text()).toMatch(/^resilience_calls_total/m);
      const passed = ['/metricsx', '/metrics/x', '/metrics//', '/ops/prom//', '/ops/promx'];
      expect(await statuses(app, passed)).toEqual(each(passed, 404));
    },
  },
  {
    area: 'adminRoutes',
    name: 'a route matches with one trailing slash and with a query string: it acts; an empty segment still does not',
    async run(t) {
      const { breakers, payments } = paymentsBreaker();
      const app = await t.serve([t.m.adminRoutes({ authorize: () => true, breakers })]);
      const listed = ['/api/resilience/circuit-breakers/', '/api/resilience/circuit-breakers/?x=1'];
      expect(await statuses(app, listed)).toEqual(each(listed, 200));
      const isolated = await app.fetch('/api/resilience/circuit-breakers/payments/isolate/', { method: 'POST' });
      expect([isolated.status, payments.state]).toEqual([200, 'isolated']);
      const reset = await app.fetch('/api/resilience/circuit-breakers/payments/reset/?by=ops', { method: 'POST' });
      expect([reset.status, payments.state]).toEqual([200, 'closed']);
      const refused = ['/api/resilience/circuit-breakers/payments/isolate//', '/api/resilience/circuit-breakers//'];
      expect(await statuses(app, refused, { method: 'POST' })).toEqual(each(refused, 404));
      expect(payments.state).toBe('closed');
      expect(
        (await app.fetch('/api/resilience/circuit-breakers/payments/', { method: 'DELETE' })).headers.get('allow'),
      ).toBe('GET, HEAD');
    },
  },
  {
    area: 'adminRoutes',
    name: "an OPTIONS (a CORS preflight, sent without credentials) is neither authorized nor answered: it goes on to the app's CORS middleware, not 401",
    async run(t) {
      const { breakers, payments } = paymentsBreaker();
      const asked: string[] = [];
      const path = '/api/resilience/circuit-breakers/payments/isolate';
      const cors = {
        'access-control-allow-origin': 'https://ops.example',
        'access-control-allow-methods': 'GET, POST',
        'access-control-allow-headers': 'authorization',
      };
      const app = await t.serve([
        t.m.adminRoutes({
          authorize: (c) => {
            asked.push(t.m.header(c, 'authorization') ?? '');
            return t.m.header(c, 'authorization') === 'Bearer ops';
          },
          breakers,
        }),
        t.m.route('OPTIONS', path, () => ({ status: 204, headers: cors })),
      ]);
      const preflight = await app.fetch(path, {
        method: 'OPTIONS',
        headers: {
          origin: 'https://ops.example',
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization',
        },
      });
      expect(preflight.status).toBe(204);
      expect(preflight.headers.get('access-control-allow-origin')).toBe('https://ops.example');
      expect(preflight.headers.get('access-control-allow-headers')).toBe('authorization');
      // Any OPTIONS goes on: where the app answers none, the framework's 404, not 401 or 405.
      const other = await app.fetch('/api/resilience/circuit-breakers', { method: 'OPTIONS' });
      await other.arrayBuffer();
      expect(other.status).toBe(404);
      expect([asked, payments.state]).toEqual([[], 'closed']);
      const call = await app.fetch(path, { method: 'POST', headers: { authorization: 'Bearer ops' } });
      expect([call.status, payments.state, asked]).toEqual([200, 'isolated', ['Bearer ops']]);
      const anonymous = await app.fetch(`${path}/`, { method: 'POST' });
      expect(anonymous.status).toBe(401);
    },
  },
  {
    area: 'healthRoutes',
    name: 'HEAD answers as GET without a body on every route (load balancers probe with it): same status and headers, Content-Length of the GET body',
    async run(t) {
      const clock = new FakeClock(0);
      let dbUp = true;
      const probes = health({ cacheMs: 60_000, clock }).register('postgres', () => dbUp, { critical: true });
      const registry = new Registry();
      registerResilienceMetrics(registry, { collectors: metrics() });
      const { breakers } = paymentsBreaker();
      const app = await t.serve([
        t.m.healthRoutes(probes, { clock }),
        t.m.metricsRoute({ registry }),
        t.m.adminRoutes({ authorize: (c) => t.m.header(c, 'authorization') === 'Bearer ops', breakers }),
      ]);
      const ops = { authorization: 'Bearer ops' };
      const NAMES = ['content-type', 'cache-control', 'allow', 'www-authenticate'];
      const answer = async (method: string, path: string) => {
        const res = await app.fetch(path, { method, headers: ops });
        const body = await res.text();
        return { res, body, headers: NAMES.map((n) => res.headers.get(n)) };
      };
      for (const path of ['/health/ready', '/health/', '/metrics', '/api/resilience/circuit-breakers/payments']) {
        const get = await answer('GET', path);
        const head = await answer('HEAD', path);
        expect([path, get.res.status, get.body.length > 0]).toEqual([path, 200, true]);
        expect([path, head.res.status, head.headers, head.body]).toEqual([path, 200, get.headers, '']);
        expect([path, head.res.headers.get('content-length')]).toEqual([path, String(Buffer.byteLength(get.body))]);
      }
      // A failing readiness is a 503 to HEAD too: the load balancer takes the instance out.
      dbUp = false;
      await clock.advance(60_000);
      expect((await answer('HEAD', '/health/ready')).res.status).toBe(503);
      // HEAD is asked as GET: a POST-only route is 405, and authorize decides first.
      const post = await answer('HEAD', '/api/resilience/circuit-breakers/payments/reset');
      expect([post.res.status, post.headers[2], post.body]).toEqual([405, 'POST', '']);
      const anonymous = await app.fetch('/api/resilience/circuit-breakers', { method: 'HEAD' });
      expect([anonymous.status, anonymous.headers.get('www-authenticate')]).toEqual([401, 'Bearer']);
    },
  },
];
