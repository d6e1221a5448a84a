// @resilience/koa: Koa middleware over @resilience/core. Every decision is core's or the
// shared Node half's (bundled from @resilience/node-server); this file only translates.
import type { HealthRegistry } from '@resilience/core';
import {
  adminRoute,
  type ErrorHandlerOptions,
  errorHandling,
  type HealthRoutesOptions,
  healthRoute,
  idempotencyStep,
  type LoadSheddingOptions,
  loadShedder,
  type MetricsRouteOptions,
  metricsRoute as metricsAnswer,
  rateLimitCheck,
  requestSignal as signalOf,
  type TimeoutOptions,
  timeoutArm,
} from '@resilience/node-server';
import type { Context, Next } from 'koa';
import { onExpress, piped, trustOf } from './context.js';
import { errorMiddleware } from './error-handler.js';
import { send, settle, writeLate } from './send.js';
import type { AdminRoutesOptions, IdempotencyOptions, Middleware, RateLimitOptions } from './types.js';

export * from '@resilience/node-server/public';
export type { AdminRoutesOptions, IdempotencyOptions, Middleware, RateLimitOptions } from './types.js';

/** A record: body parsers' typings declare `body` and `rawBody` on Koa's request, each its own way. */
type BodyRequest = Record<string, unknown>;

/**
 * The request's AbortSignal, made on first use: it aborts when the client disconnects before
 * the response ends (a `ClientDisconnectedError`, recorded as 499) or when `timeout` fires.
 */
export const requestSignal = (ctx: Context): AbortSignal => signalOf(ctx.res);

/**
 * Rate limits with draft-10 `RateLimit` / `RateLimit-Policy` fields on every response and a
 * 429 problem+json with `Retry-After` on a refusal. See docs/koa.md.
 *
 * @example app.use(rateLimit({ algorithm: tokenBucket({ capacity: 60, refillPerSecond: 1 }) }));
 */
export function rateLimit<C extends Context = Context>(options: RateLimitOptions<C>): Middleware {
  const check = rateLimitCheck(options as RateLimitOptions, {
    framework: 'koa',
    request: (ctx) => ctx.req,
    ip: (ctx) => ctx.ip,
    trust: trustOf,
    field: (ctx) => ctx.app.proxyIpHeader,
  });
  return function rateLimit(ctx: Context, next: Next) {
    onExpress(next, 'rateLimit');
    return settle(ctx, next, check(ctx, ctx.res));
  };
}

/**
 * `Idempotency-Key` per the IETF draft: the first request runs, a repeat replays its response
 * byte for byte, a repeat in flight gets 409, another payload 422, a bad key 400.
 */
export function idempotency<C extends Context = Context>(options: IdempotencyOptions<C> = {}): Middleware {
  // clientLeft: Koa's respond writes nothing once the client has left; the answer is still the
  // record. answeredFor: Koa drops ctx.status and ctx.set once a timeout's 503 went out; the
  // handler's are the record.
  const step = idempotencyStep(options as IdempotencyOptions, {
    body: (ctx) => (ctx.request as unknown as BodyRequest).body,
    // For a handler without a parser (Koa's parsers skip it); an unparsed body is left to them.
    setBody(ctx, body) {
      const ended = ctx.req.readableEnded;
      if (body.parsed === undefined && !ended) return;
      const request = ctx.request as unknown as BodyRequest;
      request.body = body.parsed;
      // As koa-bodyparser leaves it: text as a string; bytes that are not text stay bytes.
      request.rawBody = Buffer.isBuffer(body.parsed) ? body.raw : body.raw.toString();
      if (ended) ctx.disableBodyParser = true;
    },
    path: (ctx) => ctx.originalUrl,
    request: (ctx) => ctx.req,
    clientLeft: (ctx) => Object.defineProperty(ctx, 'writable', { value: true }),
    settledLate: writeLate,
    answeredFor: (ctx) => Object.defineProperty(ctx.response, 'headerSent', { value: false }),
  });
  return function idempotency(ctx: Context, next: Next) {
    onExpress(next, 'idempotency');
    return settle(ctx, next, step(ctx, ctx.res));
  };
}

/**
 * Answers 503 (problem+json, code `request_timeout`) and aborts the request's signal after
 * `ms`. The handler's late answer writes nothing; `idempotency` records it for a retry.
 */
export function timeout(options: TimeoutOptions): Middleware {
  // The 503 has gone, and the chain settles: Koa's respond would end the response again, empty,
  // in the handler's place (the end of its late answer, for an idempotency record).
  const arm = timeoutArm(options, (_res, ctx) => ((ctx as Context).respond = false));
  return function timeout(ctx: Context, next: Next) {
    onExpress(next, 'timeout');
    return arm(ctx.res, next, ctx);
  };
}

/**
 * Answers 503 with `Retry-After` beyond `maxConcurrent` requests at once (and `queue` waiting);
 * a streamed `ctx.body` keeps its slot until it has been sent.
 */
export function loadShedding(options: LoadSheddingOptions): Middleware {
  const shed = loadShedder<Context>(options, send, (ctx) => ctx.respond !== false && piped(ctx.body));
  return function loadShedding(ctx: Context, next: Next) {
    onExpress(next, 'loadShedding');
    return shed(ctx.res, next, ctx);
  };
}

/**
 * Every error as problem+json with a correlation id, every request recorded, and the errors
 * the other middleware answered themselves (a timeout, a shed) recorded too; mount it first.
 */
export function errorHandler(options: ErrorHandlerOptions = {}): Middleware {
  return errorMiddleware(errorHandling(options));
}

/** `GET {prefix}/health`, `/health/live` and `/health/ready` as `application/health+json`. */
export function healthRoutes(registry: HealthRegistry, options: HealthRoutesOptions = {}): Middleware {
  const route = healthRoute(registry, options);
  return function healthRoutes(ctx: Context, next: Next) {
    onExpress(next, 'healthRoutes');
    return settle(ctx, next, route(ctx.method, ctx.path));
  };
}

/** `GET /metrics`: a prom-client registry in the Prometheus text format. */
export function metricsRoute(options: MetricsRouteOptions): Middleware {
  const route = metricsAnswer(options);
  return function metricsRoute(ctx: Context, next: Next) {
    onExpress(next, 'metricsRoute');
    return settle(
      ctx,
      next,
      route(ctx.req.method, ctx.req.url, () => ctx.path),
    );
  };
}

/** The resilience REST endpoints under `prefix`, each request decided by `authorize` first. */
export function adminRoutes<C extends Context = Context>(options: AdminRoutesOptions<C>): Middleware {
  const route = adminRoute(options as AdminRoutesOptions);
  return function adminRoutes(ctx: Context, next: Next) {
    onExpress(next, 'adminRoutes');
    return settle(ctx, next, route(ctx, ctx.res, ctx.path));
  };
}
