// @resilience/express: Express middleware over @resilience/core. Every decision is core's or
// the shared Node half's (bundled from @resilience/node-server); this file only translates.

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
  refuseFramework,
  setRequestBody,
  requestSignal as signalOf,
  type TimeoutOptions,
  timeoutArm,
} from '@resilience/node-server';
import type { NextFunction, Request, Response } from 'express';
import { withHandling } from './error-sink.js';
import { recordAnswered, routeOf, send, settle } from './send.js';
import { trustOf } from './trust.js';
import type {
  AdminRoutesOptions,
  AnyRequest,
  ErrorMiddleware,
  IdempotencyOptions,
  Middleware,
  RateLimitOptions,
} from './types.js';

export * from '@resilience/node-server/public';
export type { AdminRoutesOptions, ErrorMiddleware, IdempotencyOptions, Middleware, RateLimitOptions } from './types.js';

// Koa calls a middleware with (ctx, next): `res` is its next. Said at the first request.
const onKoa = (res: unknown, name: string) => typeof res === 'function' && refuseFramework(name, 'express');

/**
 * The request's AbortSignal, made on first use: it aborts when the client disconnects before
 * the response ends (a `ClientDisconnectedError`, recorded as 499) or when `timeout` fires.
 */
export const requestSignal = (req: Request): AbortSignal => signalOf(req.res as Response);

/**
 * Rate limits with draft-10 `RateLimit` / `RateLimit-Policy` fields on every response and a
 * 429 problem+json with `Retry-After` on a refusal. See docs/express.md.
 *
 * @example app.use(rateLimit({ algorithm: tokenBucket({ capacity: 60, refillPerSecond: 1 }) }));
 */
export function rateLimit<R extends AnyRequest = Request>(options: RateLimitOptions<R>): Middleware {
  // Without `X-Forwarded-For` (the only field Express reads for `req.ip`), or trusting no
  // proxy, `req.ip` is the socket's address: read it without the setting or the proxy walk.
  const ip = (req: Request, xff: boolean) => (!xff || trustOf(req) === 'none' ? req.socket.remoteAddress : req.ip);
  const check = rateLimitCheck(options as RateLimitOptions, {
    framework: 'express',
    request: (req) => req,
    ip,
    trust: trustOf,
    field: () => 'X-Forwarded-For',
  });
  return function rateLimit(req: AnyRequest, res: Response, next: NextFunction) {
    onKoa(res, 'rateLimit');
    try {
      settle(res, next, check(req, res));
    } catch (error) {
      next(error);
    }
  };
}

/**
 * `Idempotency-Key` per the IETF draft: the first request runs, a repeat replays its response
 * byte for byte, a repeat in flight gets 409, another payload 422, a bad key 400.
 */
export function idempotency<R extends AnyRequest = Request>(options: IdempotencyOptions<R> = {}): Middleware {
  const step = idempotencyStep(options as IdempotencyOptions, {
    body: (req) => req.body,
    setBody: (req, body) => setRequestBody(req, body),
    path: (req) => req.originalUrl,
    request: (req) => req,
  });
  return function idempotency(req: AnyRequest, res: Response, next: NextFunction) {
    onKoa(res, 'idempotency');
    settle(res, next, step(req, res));
  };
}

/**
 * Answers 503 (problem+json, code `request_timeout`) and aborts the request's signal after
 * `ms`. The handler's late answer writes nothing; `idempotency` records it for a retry.
 */
export function timeout(options: TimeoutOptions): Middleware {
  const arm = timeoutArm(options, recordAnswered);
  return function timeout(_req: AnyRequest, res: Response, next: NextFunction) {
    onKoa(res, 'timeout');
    arm(res, next);
  };
}

/** Answers 503 with `Retry-After` beyond `maxConcurrent` requests at once (and `queue` waiting). */
export function loadShedding(options: LoadSheddingOptions): Middleware {
  const shed = loadShedder<Response>(options, send);
  return function loadShedding(_req: AnyRequest, res: Response, next: NextFunction) {
    onKoa(res, 'loadShedding');
    shed(res, next, res)?.then(undefined, next);
  };
}

/**
 * Every error as problem+json with a correlation id; mount it last. It also records the errors
 * the other middleware answer themselves (a timeout, a shed), which never reach it through `next`.
 */
export function errorHandler(options: ErrorHandlerOptions = {}): ErrorMiddleware {
  const handling = errorHandling(options);
  return withHandling(function errorHandler(error: unknown, req: AnyRequest, res: Response, next: NextFunction) {
    onKoa(req, 'errorHandler');
    const answer = handling.answer(res, error, { route: routeOf(req), recorded: false });
    if (answer !== undefined) send(res, answer)?.then(undefined, next);
  }, handling);
}

/** `GET {prefix}/health`, `/health/live` and `/health/ready` as `application/health+json`. */
export function healthRoutes(registry: HealthRegistry, options: HealthRoutesOptions = {}): Middleware {
  const route = healthRoute(registry, options);
  return function healthRoutes(req: AnyRequest, res: Response, next: NextFunction) {
    onKoa(res, 'healthRoutes');
    settle(res, next, route(req.method, req.path));
  };
}

/** `GET /metrics`: a prom-client registry in the Prometheus text format. */
export function metricsRoute(options: MetricsRouteOptions): Middleware {
  const route = metricsAnswer(options);
  return function metricsRoute(req: AnyRequest, res: Response, next: NextFunction) {
    onKoa(res, 'metricsRoute');
    settle(
      res,
      next,
      route(req.method, req.url, () => req.path),
    );
  };
}

/** The resilience REST endpoints under `prefix`, each request decided by `authorize` first. */
export function adminRoutes<R extends AnyRequest = Request>(options: AdminRoutesOptions<R>): Middleware {
  const route = adminRoute(options as AdminRoutesOptions);
  return function adminRoutes(req: AnyRequest, res: Response, next: NextFunction) {
    onKoa(res, 'adminRoutes');
    settle(res, next, route(req, res, req.path));
  };
}
