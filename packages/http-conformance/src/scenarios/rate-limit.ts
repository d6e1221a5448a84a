import {
  type EventLogger,
  fixedWindow,
  gcra,
  PROBLEM_TYPES,
  rateLimiter,
  type Store,
  StoreUnavailableError,
  tokenBucket,
} from '@resilience/core';
import { FakeClock } from '@resilience/core/testing';
import { expect } from 'vitest';
import { type Context, counter, problemOf, type Scenario } from '../scenario.js';
import type { TrustProxy } from '../types.js';

const ok = () => ({ json: { ok: true } });

/**
 * `GET /` behind a limit of one request a minute per client, in an app trusting `trustProxy`.
 * On a clock that stands still: on the system's, a minute's window could end between two
 * requests (windows start on the minute), and the second would be let through.
 */
const oneAMinute = (t: Context, logger: EventLogger, trustProxy: TrustProxy) =>
  t.serve(
    [
      t.m.rateLimit({ algorithm: fixedWindow({ limit: 1, windowMs: 60_000 }), logger, clock: new FakeClock(0) }),
      t.m.route('GET', '/', ok),
    ],
    { trustProxy },
  );

/** A store whose every operation fails as a Redis store does when Redis is down. */
export function downStore(message = 'store down'): Store {
  const fail = () => Promise.reject(new StoreUnavailableError(message));
  return { apply: fail, applyAll: fail, get: fail, set: fail, delete: fail, keys: fail };
}

export const rateLimitScenarios: Scenario[] = [
  {
    area: 'rateLimit',
    name: 'sends RateLimit-Policy and RateLimit (draft-10) on an allowed response: w the window, t until full',
    async run(t) {
      const clock = new FakeClock(0);
      const app = await t.serve([
        t.m.rateLimit({ name: 'api', algorithm: fixedWindow({ limit: 3, windowMs: 60_000 }), clock }),
        t.m.route('GET', '/', ok),
      ]);
      const res = await app.fetch('/');
      expect(res.status).toBe(200);
      expect(res.headers.get('ratelimit-policy')).toBe('"api";q=3;w=60');
      expect(res.headers.get('ratelimit')).toBe('"api";r=2;t=60');
      expect(res.headers.get('retry-after')).toBeNull();
    },
  },
  {
    area: 'rateLimit',
    name: 'refuses with 429, Retry-After equal to t, and a quota-exceeded problem naming the policy; the handler does not run',
    async run(t) {
      const clock = new FakeClock(0);
      const runs = counter();
      const app = await t.serve([
        t.m.rateLimit({ name: 'api', algorithm: fixedWindow({ limit: 1, windowMs: 10_000 }), clock }),
        t.m.route('GET', '/', () => runs.add(ok())),
      ]);
      expect((await app.fetch('/')).status).toBe(200);
      await clock.advance(2_500);
      const res = await app.fetch('/', { headers: { 'x-request-id': 'req-42' } });
      expect(res.status).toBe(429);
      expect(res.headers.get('retry-after')).toBe('8');
      expect(res.headers.get('ratelimit')).toBe('"api";r=0;t=8');
      expect(res.headers.get('ratelimit-policy')).toBe('"api";q=1;w=10');
      const body = await problemOf(res);
      expect(body).toMatchObject({
        type: PROBLEM_TYPES.quota_exceeded,
        status: 429,
        'violated-policies': ['api'],
        correlationId: 'req-42',
      });
      expect(runs.runs).toBe(1);
    },
  },
  {
    area: 'rateLimit',
    name: 'a refused request consumes nothing: after the refill exactly what refilled passes',
    async run(t) {
      const clock = new FakeClock(0);
      const app = await t.serve([
        t.m.rateLimit({ algorithm: tokenBucket({ capacity: 2, refillPerSecond: 1 }), clock }),
        t.m.route('GET', '/', ok),
      ]);
      const statuses = async (n: number) => {
        const out: number[] = [];
        for (let i = 0; i < n; i++) out.push((await app.fetch('/')).status);
        return out;
      };
      expect(await statuses(6)).toEqual([200, 200, 429, 429, 429, 429]);
      await clock.advance(1_000);
      expect(await statuses(2)).toEqual([200, 429]);
      await clock.advance(2_000);
      expect(await statuses(3)).toEqual([200, 200, 429]);
    },
  },
  {
    area: 'rateLimit',
    name: 'w is capacity ÷ refill for a token bucket and the period for GCRA; several limits are one policy each',
    async run(t) {
      const clock = new FakeClock(0);
      const app = await t.serve([
        t.m.rateLimit({ name: 'bucket', algorithm: tokenBucket({ capacity: 60, refillPerSecond: 2 }), clock }),
        t.m.rateLimit({ name: 'gcra', algorithm: gcra({ limit: 10, periodMs: 5_000 }), clock }),
        t.m.rateLimit({
          name: 'both',
          algorithm: [fixedWindow({ limit: 5, windowMs: 1_000 }), fixedWindow({ limit: 100, windowMs: 3_600_000 })],
          clock,
        }),
        t.m.route('GET', '/', ok),
      ]);
      const res = await app.fetch('/');
      expect(res.headers.get('ratelimit-policy')).toBe(
        '"bucket";q=60;w=30, "gcra";q=10;w=5, "both-1";q=5;w=1, "both-2";q=100;w=3600',
      );
      expect(res.headers.get('ratelimit')).toBe(
        '"bucket";r=59;t=1, "gcra";r=9;t=1, "both-1";r=4;t=1, "both-2";r=99;t=3600',
      );
    },
  },
  {
    area: 'rateLimit',
    name: 'never counts a request twice: one middleware reached twice counts once, two limiters are two policies',
    async run(t) {
      const clock = new FakeClock(0);
      const perIp = t.m.rateLimit({ name: 'ip', algorithm: fixedWindow({ limit: 10, windowMs: 60_000 }), clock });
      const app = await t.serve([
        perIp,
        perIp,
        t.m.rateLimit({ name: 'route', algorithm: fixedWindow({ limit: 5, windowMs: 60_000 }), clock }),
        t.m.route('GET', '/', ok),
      ]);
      expect((await app.fetch('/')).headers.get('ratelimit')).toBe('"ip";r=9;t=60, "route";r=4;t=60');
      expect((await app.fetch('/')).headers.get('ratelimit')).toBe('"ip";r=8;t=60, "route";r=3;t=60');
    },
  },
  {
    area: 'rateLimit',
    name: "headers 'legacy' sends RateLimit-Limit/-Remaining/-Reset and X-RateLimit-*, 'both' adds them to the draft's",
    async run(t) {
      const clock = new FakeClock(1_800_000_000_000);
      const algorithm = () => fixedWindow({ limit: 2, windowMs: 60_000 });
      const legacy = await t.serve([
        t.m.rateLimit({ algorithm: algorithm(), headers: 'legacy', clock }),
        t.m.route('GET', '/', ok),
      ]);
      const both = await t.serve([
        t.m.rateLimit({ algorithm: algorithm(), headers: 'both', clock }),
        t.m.route('GET', '/', ok),
      ]);
      const a = await legacy.fetch('/');
      expect(a.headers.get('ratelimit')).toBeNull();
      expect([
        a.headers.get('ratelimit-limit'),
        a.headers.get('ratelimit-remaining'),
        a.headers.get('ratelimit-reset'),
      ]).toEqual(['2', '1', '60']);
      expect(a.headers.get('x-ratelimit-reset')).toBe(String(1_800_000_000 + 60));
      const b = await both.fetch('/');
      expect(b.headers.get('ratelimit')).toBe('"default";r=1;t=60');
      expect(b.headers.get('x-ratelimit-remaining')).toBe('1');
    },
  },
  {
    area: 'rateLimit',
    name: 'two limiters with the legacy fields: Limit, Remaining and Reset all describe the more constrained one, never a mix of both',
    async run(t) {
      const clock = new FakeClock(1_800_000_000_000);
      const legacy = (name: string, limit: number, windowMs: number) =>
        t.m.rateLimit({ name, algorithm: fixedWindow({ limit, windowMs }), headers: 'legacy', clock });
      const fields = (res: Response) =>
        ['limit', 'remaining', 'reset'].flatMap((f) => [
          res.headers.get(`ratelimit-${f}`),
          res.headers.get(`x-ratelimit-${f}`),
        ]);
      const app = await t.serve([
        legacy('minute', 2, 60_000),
        legacy('hour', 100, 3_600_000),
        t.m.route('GET', '/', ok),
      ]);
      // The per-minute limit, first, is the constrained one: its limit and reset, not the hour's.
      expect(fields(await app.fetch('/'))).toEqual(['2', '2', '1', '1', '60', String(1_800_000_000 + 60)]);
      const other = await t.serve([
        legacy('hour', 100, 3_600_000),
        legacy('minute', 2, 60_000),
        t.m.route('GET', '/', ok),
      ]);
      expect(fields(await other.fetch('/'))).toEqual(['2', '2', '1', '1', '60', String(1_800_000_000 + 60)]);
    },
  },
  {
    area: 'rateLimit',
    name: 'keys by a function of the request (API key, user, org): each key has its own quota; skip passes uncounted',
    async run(t) {
      const clock = new FakeClock(0);
      const app = await t.serve([
        t.m.rateLimit({
          algorithm: fixedWindow({ limit: 1, windowMs: 60_000 }),
          key: (c) => t.m.header(c, 'x-api-key') ?? 'anonymous',
          skip: (c) => t.m.header(c, 'x-probe') === '1',
          clock,
        }),
        t.m.route('GET', '/', ok),
      ]);
      const as = (key: string, probe = false) =>
        app.fetch('/', { headers: probe ? { 'x-api-key': key, 'x-probe': '1' } : { 'x-api-key': key } });
      const skipped = await as('a', true);
      expect(skipped.status).toBe(200);
      expect(skipped.headers.get('ratelimit')).toBeNull();
      expect((await as('a')).status).toBe(200);
      expect((await as('a')).status).toBe(429);
      expect((await as('b')).status).toBe(200);
      expect((await as('a', true)).status).toBe(200);
    },
  },
  {
    area: 'rateLimit',
    name: 'takes the cost from a function of the request',
    async run(t) {
      const clock = new FakeClock(0);
      const app = await t.serve([
        t.m.rateLimit({
          algorithm: fixedWindow({ limit: 10, windowMs: 60_000 }),
          cost: (c) => Number(t.m.header(c, 'x-cost') ?? 1),
          clock,
        }),
        t.m.route('GET', '/', ok),
      ]);
      expect((await app.fetch('/', { headers: { 'x-cost': '7' } })).headers.get('ratelimit')).toBe(
        '"default";r=3;t=60',
      );
      expect((await app.fetch('/', { headers: { 'x-cost': '4' } })).status).toBe(429);
      expect((await app.fetch('/', { headers: { 'x-cost': '3' } })).status).toBe(200);
    },
  },
  {
    area: 'rateLimit',
    name: 'fails the request (500, naming cost) when the cost function answers no number >= 0, undefined included, and takes nothing',
    async run(t) {
      const clock = new FakeClock(0);
      const logger = t.logger();
      const costs: Record<string, unknown> = { missing: undefined, nan: Number.NaN, negative: -1, text: '2' };
      const app = await t.serve([
        t.m.errorHandler({ logger }),
        t.m.rateLimit({
          algorithm: fixedWindow({ limit: 5, windowMs: 60_000 }),
          cost: (c) => costs[t.m.header(c, 'x-plan') ?? ''] as number,
          clock,
        }),
        t.m.route('GET', '/', ok),
      ]);
      for (const plan of Object.keys(costs)) {
        expect([plan, (await app.fetch('/', { headers: { 'x-plan': plan } })).status]).toEqual([plan, 500]);
      }
      expect(logger.lines.map((l) => JSON.stringify(l))).toEqual(
        Object.keys(costs).map(() => expect.stringMatching(/cost/)),
      );
      costs.one = 1;
      expect((await app.fetch('/', { headers: { 'x-plan': 'one' } })).headers.get('ratelimit')).toBe(
        '"default";r=4;t=60',
      );
    },
  },
  {
    area: 'rateLimit',
    name: 'refuses a cost above what a limit ever admits with 429 and no Retry-After (waiting never helps), taking nothing',
    async run(t) {
      const clock = new FakeClock(0);
      const app = await t.serve([
        t.m.rateLimit({
          name: 'tokens',
          algorithm: [fixedWindow({ limit: 10, windowMs: 60_000 }), fixedWindow({ limit: 100, windowMs: 3_600_000 })],
          cost: (c) => Number(t.m.header(c, 'x-cost') ?? 1),
          headers: 'both',
          clock,
        }),
        t.m.route('GET', '/', ok),
      ]);
      const refused = await app.fetch('/', { headers: { 'x-cost': '11' } });
      expect(refused.status).toBe(429);
      expect(refused.headers.get('content-type')).toBe('application/problem+json');
      expect(refused.headers.get('retry-after')).toBeNull();
      expect(refused.headers.get('ratelimit-policy')).toBe('"tokens-1";q=10;w=60, "tokens-2";q=100;w=3600');
      expect(refused.headers.get('ratelimit-reset')).toBeNull();
      expect(await refused.json()).toMatchObject({
        type: 'https://iana.org/assignments/http-problem-types#quota-exceeded',
        status: 429,
        'violated-policies': ['tokens-1'],
        detail: 'the request costs 11, more than the 10 the policy "tokens-1" ever admits',
      });
      const full = await app.fetch('/', { headers: { 'x-cost': '10' } });
      expect([full.status, full.headers.get('ratelimit')]).toEqual([
        200,
        '"tokens-1";r=0;t=60, "tokens-2";r=90;t=3600',
      ]);
    },
  },
  {
    area: 'rateLimit',
    name: 'decides with consumeSync on a synchronous store: consume (a promise per request) is never called',
    async run(t) {
      const clock = new FakeClock(0);
      const limiter = rateLimiter({ name: 'sync', algorithm: fixedWindow({ limit: 2, windowMs: 60_000 }), clock });
      expect(limiter.synchronous).toBe(true);
      limiter.consume = () => Promise.reject(new Error('consume must not be called on a synchronous store'));
      const app = await t.serve([t.m.rateLimit({ limiter }), t.m.route('GET', '/', ok)]);
      expect([(await app.fetch('/')).status, (await app.fetch('/')).status, (await app.fetch('/')).status]).toEqual([
        200, 200, 429,
      ]);
      expect(limiter.stats).toMatchObject({ requests: 3, allowed: 2, blocked: 1 });
    },
  },
  {
    area: 'rateLimit',
    name: 'warns once when two limiters on one request share a name (both left "default"), which clients cannot tell apart',
    async run(t) {
      const logger = t.logger();
      const clock = new FakeClock(0);
      const unnamed = (limit: number) =>
        t.m.rateLimit({ algorithm: fixedWindow({ limit, windowMs: 60_000 }), clock, logger });
      const app = await t.serve([unnamed(10), unnamed(5), t.m.route('GET', '/', ok)]);
      for (let i = 0; i < 3; i++) await app.fetch('/');
      expect(logger.lines.map((l) => [l.level, l.message])).toEqual([
        ['warn', expect.stringMatching(/^rateLimit "default": another rateLimit middleware .* same name/)],
      ]);
      // Named apart: no warning.
      const quiet = t.logger();
      const named = await t.serve([
        t.m.rateLimit({ name: 'ip', algorithm: fixedWindow({ limit: 10, windowMs: 60_000 }), clock, logger: quiet }),
        t.m.rateLimit({ name: 'route', algorithm: fixedWindow({ limit: 5, windowMs: 60_000 }), clock, logger: quiet }),
        t.m.route('GET', '/', ok),
      ]);
      await named.fetch('/');
      expect(quiet.lines).toEqual([]);
    },
  },
  {
    area: 'rateLimit',
    name: 'warns once through the logger when X-Forwarded-For arrives and no proxy is trusted',
    async run(t) {
      const logger = t.logger();
      const app = await t.serve([
        t.m.rateLimit({ algorithm: fixedWindow({ limit: 100, windowMs: 60_000 }), logger }),
        t.m.route('GET', '/', ok),
      ]);
      await app.fetch('/');
      expect(logger.lines).toEqual([]);
      for (let i = 0; i < 3; i++) await app.fetch('/', { headers: { 'x-forwarded-for': `198.51.100.${i}` } });
      expect(logger.lines).toHaveLength(1);
      expect(logger.lines[0]!.level).toBe('warn');
      expect(logger.lines[0]!.message).toMatch(/trusts no proxy/);
    },
  },
  {
    area: 'rateLimit',
    name: 'warns once when every proxy is trusted: rotating a spoofed X-Forwarded-For escapes the limit',
    async run(t) {
      const logger = t.logger();
      const app = await oneAMinute(t, logger, 'all');
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) {
        statuses.push((await app.fetch('/', { headers: { 'x-forwarded-for': `203.0.113.${i}` } })).status);
      }
      expect(statuses).toEqual([200, 200, 200]);
      expect(logger.lines.map((l) => l.message)).toEqual([expect.stringMatching(/trusts every proxy/)]);
    },
  },
  {
    area: 'rateLimit',
    name: 'Forwarded alone (RFC 7239), which neither framework reads: clients share the proxy address, and the warning says so, whatever proxies are trusted',
    async run(t) {
      for (const trust of ['none', 'all', 1] as const) {
        const logger = t.logger();
        const app = await oneAMinute(t, logger, trust);
        const from = (ip: string) => app.fetch('/', { headers: { forwarded: `for=${ip}` } });
        expect([(await from('203.0.113.1')).status, (await from('203.0.113.2')).status]).toEqual([200, 429]);
        expect(logger.lines.map((l) => l.message)).toEqual([
          expect.stringMatching(
            /Forwarded but no X-Forwarded-For, the only field (Express|Koa) reads: every client has the proxy's address/,
          ),
        ]);
      }
    },
  },
  {
    area: 'rateLimit',
    name: 'trusting one hop: a spoofed leftmost X-Forwarded-For does not escape, IPv6 clients share their /56, no warning',
    async run(t) {
      const logger = t.logger();
      const app = await oneAMinute(t, logger, 1);
      const from = (xff: string) => app.fetch('/', { headers: { 'x-forwarded-for': xff } });
      expect((await from('10.0.0.1, 203.0.113.7')).status).toBe(200);
      expect((await from('10.0.0.2, 203.0.113.7')).status).toBe(429);
      expect((await from('2001:db8:abcd:1200::1')).status).toBe(200);
      expect((await from('2001:db8:abcd:12ff:ffff::2')).status).toBe(429);
      expect((await from('2001:db8:abcd:1300::1')).status).toBe(200);
      expect(logger.lines).toEqual([]);
    },
  },
  {
    area: 'rateLimit',
    name: 'IPv4 clients of an IPv6-only server behind a NAT64 / SIIT gateway (64:ff9b::/96) each have their own limit, keyed as their IPv4 address',
    async run(t) {
      const app = await oneAMinute(t, t.logger(), 1);
      const from = async (xff: string) => (await app.fetch('/', { headers: { 'x-forwarded-for': xff } })).status;
      expect(await from('64:ff9b::203.0.113.7')).toBe(200);
      expect(await from('64:ff9b::198.51.100.9')).toBe(200); // another client, not the same /56
      expect(await from('64:ff9b::cb00:7107')).toBe(429); // 203.0.113.7 again, written in hex
      expect(await from('203.0.113.7')).toBe(429);
    },
  },
  {
    area: 'rateLimit',
    name: 'IPv4 clients in the IPv4-compatible (::a.b.c.d), 6to4 and Teredo forms each have their own limit, keyed as their IPv4 address',
    async run(t) {
      const app = await oneAMinute(t, t.logger(), 1);
      const from = async (xff: string) => (await app.fetch('/', { headers: { 'x-forwarded-for': xff } })).status;
      expect(await from('::203.0.113.7')).toBe(200);
      expect(await from('::198.51.100.9')).toBe(200); // another client, not the same ::/56
      expect(await from('203.0.113.7')).toBe(429);
      expect(await from('2002:c633:640a::1')).toBe(200); // 6to4: the site of 198.51.100.10
      expect(await from('2002:c633:640a:ff00::1')).toBe(429); // another /56 of that site's /48
      expect(await from('2001:0:4136:e378:8000:63bf:34ff:8ef7')).toBe(200); // Teredo: 203.0.113.8
      expect(await from('2001:0:4136:e378:8000:63bf:34ff:8ef6')).toBe(200); // 203.0.113.9, same server
    },
  },
  {
    area: 'rateLimit',
    name: 'a proxy that adds the client port to X-Forwarded-For (Azure, IIS ARR) does not give each connection a fresh limit',
    async run(t) {
      const app = await oneAMinute(t, t.logger(), 1);
      const from = (xff: string) => app.fetch('/', { headers: { 'x-forwarded-for': xff } });
      expect((await from('203.0.113.7:51000')).status).toBe(200);
      expect((await from('203.0.113.7:51001')).status).toBe(429);
      expect((await from('[2001:db8:abcd:1200::1]:51002')).status).toBe(200);
      expect((await from('[2001:db8:abcd:12ff::2]:51003')).status).toBe(429);
    },
  },
  {
    area: 'rateLimit',
    name: 'a store that fails lets requests through by default (fail-open), logged at most once a minute, never a 500',
    async run(t) {
      const logger = t.logger();
      const clock = new FakeClock(0);
      const app = await t.serve([
        t.m.rateLimit({ algorithm: fixedWindow({ limit: 1, windowMs: 60_000 }), store: downStore(), logger, clock }),
        t.m.route('GET', '/', ok),
      ]);
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) {
        const res = await app.fetch('/');
        statuses.push(res.status);
        // The policy is listed; no RateLimit item claims a quota that nothing counted.
        expect(res.headers.get('ratelimit-policy')).toBe('"default";q=1;w=60');
        expect(res.headers.get('ratelimit')).toBeNull();
      }
      expect(statuses).toEqual([200, 200, 200]);
      expect(logger.lines.filter((l) => /store failed/.test(l.message))).toHaveLength(1);
      await clock.advance(60_000);
      await app.fetch('/');
      expect(logger.lines.filter((l) => /store failed/.test(l.message))).toHaveLength(2);
    },
  },
  {
    area: 'rateLimit',
    name: "a store's failure is logged on one line: the control characters of its message escaped",
    async run(t) {
      const logger = t.logger();
      const app = await t.serve([
        t.m.rateLimit({
          algorithm: fixedWindow({ limit: 1, windowMs: 60_000 }),
          store: downStore('down\r\nforged line \u001b[2J'),
          logger,
        }),
        t.m.route('GET', '/', ok),
      ]);
      expect((await app.fetch('/')).status).toBe(200);
      const line = logger.lines.find((l) => /store failed/.test(l.message))!;
      expect(line.message).toContain('down\\u{d}\\u{a}forged line \\u{1b}[2J');
      expect(line.message).not.toMatch(/\p{Cc}/u);
    },
  },
  {
    area: 'rateLimit',
    name: 'a limiter that failed open beside one that counts: both policies listed, only the counted one reported, in either order',
    async run(t) {
      const clock = new FakeClock(0);
      const logger = t.logger();
      const counted = () =>
        t.m.rateLimit({ name: 'ip', algorithm: fixedWindow({ limit: 5, windowMs: 60_000 }), clock });
      const down = () =>
        t.m.rateLimit({
          name: 'org',
          algorithm: fixedWindow({ limit: 50, windowMs: 60_000 }),
          store: downStore(),
          logger,
          clock,
        });
      const first = await t.serve([counted(), down(), t.m.route('GET', '/', ok)]);
      const last = await t.serve([down(), counted(), t.m.route('GET', '/', ok)]);
      const a = await first.fetch('/');
      expect(a.headers.get('ratelimit-policy')).toBe('"ip";q=5;w=60, "org";q=50;w=60');
      expect(a.headers.get('ratelimit')).toBe('"ip";r=4;t=60');
      const b = await last.fetch('/');
      expect(b.headers.get('ratelimit-policy')).toBe('"org";q=50;w=60, "ip";q=5;w=60');
      expect(b.headers.get('ratelimit')).toBe('"ip";r=4;t=60');
    },
  },
  {
    area: 'rateLimit',
    name: "a store that fails with onStoreError 'closed' answers 503 problem+json (store_unavailable), never a 500",
    async run(t) {
      const runs = counter();
      const app = await t.serve([
        t.m.rateLimit({
          algorithm: fixedWindow({ limit: 1, windowMs: 60_000 }),
          store: downStore(),
          onStoreError: 'closed',
          logger: t.logger(),
        }),
        t.m.route('GET', '/', () => runs.add(ok())),
      ]);
      const res = await app.fetch('/');
      expect(res.status).toBe(503);
      expect(await problemOf(res)).toMatchObject({ status: 503, code: 'store_unavailable', category: 'dependency' });
      expect(runs.runs).toBe(0);
    },
  },
  {
    area: 'rateLimit',
    name: 'a store that throws its failure instead of rejecting with it is decided by onStoreError all the same: open passes, closed 503',
    async run(t) {
      // A client that checks its connection before it sends, and throws at once.
      const fail = () => {
        throw new StoreUnavailableError('connection is closed');
      };
      const throwing = (): Store => ({ apply: fail, applyAll: fail, get: fail, set: fail, delete: fail, keys: fail });
      const algorithm = () => fixedWindow({ limit: 1, windowMs: 60_000 });
      const open = await t.serve([
        t.m.rateLimit({ algorithm: algorithm(), store: throwing(), logger: t.logger() }),
        t.m.route('GET', '/', ok),
      ]);
      expect([(await open.fetch('/')).status, (await open.fetch('/')).status]).toEqual([200, 200]);
      const closed = await t.serve([
        t.m.rateLimit({ algorithm: algorithm(), store: throwing(), onStoreError: 'closed', logger: t.logger() }),
        t.m.route('GET', '/', ok),
      ]);
      const res = await closed.fetch('/');
      expect(res.status).toBe(503);
      expect(await problemOf(res)).toMatchObject({ code: 'store_unavailable' });
    },
  },
  {
    area: 'rateLimit',
    name: 'keeps Retry-After and the RateLimit fields on a 429 behind an error handler (Koa drops headers on its error path)',
    async run(t) {
      const clock = new FakeClock(0);
      const app = await t.serve([
        t.m.errorHandler({ logger: t.logger() }),
        t.m.rateLimit({ algorithm: fixedWindow({ limit: 1, windowMs: 30_000 }), clock }),
        t.m.route('GET', '/', ok),
      ]);
      await app.fetch('/');
      const res = await app.fetch('/');
      expect(res.status).toBe(429);
      expect(res.headers.get('retry-after')).toBe('30');
      expect(res.headers.get('ratelimit')).toBe('"default";r=0;t=30');
      expect(res.headers.get('ratelimit-policy')).toBe('"default";q=1;w=30');
    },
  },
];
