import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fixedWindow, metrics, recentErrors } from '@resilience/core';
import * as ours from '@resilience/express';
import * as oursKoa from '@resilience/koa';
import { registerResilienceMetrics } from '@resilience/prometheus';
import express, { type RequestHandler } from 'express';
import expressRateLimit from 'express-rate-limit';
import Koa, { type Middleware } from 'koa';
import koaRateLimit from 'koa-ratelimit';
import { Registry } from 'prom-client';
import { RateLimiterMemory } from 'rate-limiter-flexible';
import { type Framework, VARIANTS } from './variants.js';

// One server under test, run in a child process by suites/servers.ts:
// `app.ts <express|koa> <variant>`. It answers `GET /` with a small JSON body behind the
// variant's middleware, listens on 127.0.0.1 (port 0) and sends its port to the parent.
// Every limiter allows far more requests than a run sends: the cost of a middleware that
// says yes is what is measured.

const NEVER = 1_000_000_000;
const never = () => fixedWindow({ limit: NEVER, windowMs: 60_000 });
const quiet = { info() {}, warn() {}, error() {} };
const POLICY = `"default";q=${NEVER};w=60`;
/** The RateLimit field ours sends on an allowed request of a never-limited fixed window. */
const rateLimitField = () => `"default";r=${NEVER - 1};t=${60 - (Math.floor(Date.now() / 1000) % 60)}`;
/** Sets the two fields ours sends on every response, as ours sets them, and nothing else. */
const setRateLimitFields = (res: { setHeader(name: string, value: string): unknown }) => {
  res.setHeader('ratelimit-policy', POLICY);
  res.setHeader('ratelimit', rateLimitField());
};

/** The full stack: rateLimit, idempotency (POST and PATCH; the GETs measured pass it), timeout, errorHandler recording into a collector exported to Prometheus. */
function observability() {
  const stats = metrics();
  const registry = new Registry();
  registerResilienceMetrics(registry, { collectors: stats });
  return { stats, registry, errors: recentErrors({ max: 100 }) };
}

function expressApp(variant: string): express.Express {
  const app = express();
  const limiter = new RateLimiterMemory({ points: NEVER, duration: 60 });
  // As rate-limiter-flexible's docs write an Express middleware.
  const flexible: RequestHandler = (req, res, next) => {
    limiter
      .consume(req.ip ?? '')
      .then(() => next())
      .catch(() => res.status(429).send('Too Many Requests'));
  };
  const o = observability();
  const stacks: Record<string, RequestHandler[]> = {
    bare: [],
    'bare again': [],
    ours: [ours.rateLimit({ algorithm: never(), logger: quiet })],
    'express-rate-limit': [expressRateLimit({ windowMs: 60_000, limit: NEVER })],
    'rate-limiter-flexible': [flexible],
    // The floor: one middleware that does nothing but pass the request on.
    'no-op middleware': [(_req, _res, next) => next()],
    // The full stack's floor: as many no-op middlewares as it mounts before the route.
    'no-op × 4': Array.from({ length: 4 }, (): RequestHandler => (_req, _res, next) => next()),
    'RateLimit fields only': [
      (_req, res, next) => {
        setRateLimitFields(res);
        next();
      },
    ],
    'full stack': [
      ours.rateLimit({ algorithm: never(), logger: quiet }),
      ours.idempotency({ logger: quiet }),
      ours.timeout({ ms: 30_000 }),
      ours.metricsRoute({ registry: o.registry }),
    ],
  };
  for (const m of stacks[variant] ?? []) app.use(m);
  app.get('/', (_req, res) => {
    res.json({ ok: true });
  });
  if (variant === 'full stack') {
    app.use(ours.errorHandler({ collector: o.stats, recentErrors: o.errors, logger: quiet }));
  }
  return app;
}

function koaApp(variant: string): Koa {
  const app = new Koa();
  const limiter = new RateLimiterMemory({ points: NEVER, duration: 60 });
  // As rate-limiter-flexible's docs write a Koa middleware.
  const flexible: Middleware = async (ctx, next) => {
    try {
      await limiter.consume(ctx.ip);
    } catch {
      ctx.status = 429;
      ctx.body = 'Too Many Requests';
      return;
    }
    await next();
  };
  const o = observability();
  const stacks: Record<string, Middleware[]> = {
    bare: [],
    'bare again': [],
    ours: [oursKoa.rateLimit({ algorithm: never(), logger: quiet })],
    'koa-ratelimit': [
      koaRateLimit({ driver: 'memory', db: new Map(), duration: 60_000, max: NEVER, id: (ctx) => ctx.ip }),
    ],
    'rate-limiter-flexible': [flexible],
    'no-op middleware': [(_ctx, next) => next()],
    'no-op × 5': Array.from({ length: 5 }, (): Middleware => (_ctx, next) => next()),
    'RateLimit fields only': [
      (ctx, next) => {
        setRateLimitFields(ctx.res);
        return next();
      },
    ],
    'full stack': [
      oursKoa.errorHandler({ collector: o.stats, recentErrors: o.errors, logger: quiet }),
      oursKoa.rateLimit({ algorithm: never(), logger: quiet }),
      oursKoa.idempotency({ logger: quiet }),
      oursKoa.timeout({ ms: 30_000 }),
      oursKoa.metricsRoute({ registry: o.registry }),
    ],
  };
  for (const m of stacks[variant] ?? []) app.use(m);
  app.use((ctx) => {
    if (ctx.method === 'GET' && ctx.path === '/') ctx.body = { ok: true };
  });
  return app;
}

const [framework, variant] = process.argv.slice(2) as [Framework, string];
if (process.send === undefined) throw new Error('app.ts runs as a child of suites/servers.ts');
if (!(VARIANTS[framework] as readonly string[] | undefined)?.includes(variant)) {
  throw new Error(`unknown server ${framework} ${variant}`);
}
const server = createServer(framework === 'express' ? expressApp(variant) : koaApp(variant).callback());
server.listen(0, '127.0.0.1', () => process.send!({ port: (server.address() as AddressInfo).port }));
// The parent asks for the CPU time spent so far, before and after each run.
process.on('message', () => process.send!(process.cpuUsage()));
process.on('disconnect', () => process.exit(0));
