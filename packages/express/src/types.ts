// The public types of @resilience/express, generic in the route's Express types; index.ts
// re-exports them.
import type {
  AdminRoutesOptions as AdminOptions,
  IdempotencyOptions as IdempotencyBase,
  RateLimitOptions as RateLimitBase,
} from '@resilience/node-server';
import type { NextFunction, Request, Response } from 'express';

/** Any Express `req` (its params, bodies, query and locals typed as the route has them). */
// biome-ignore lint/suspicious/noExplicitAny: Request's own parameters, any of them.
export type AnyRequest = Request<any, any, any, any, any>;

/** Options of {@link rateLimit}: functions receive the Express `req`, typed as you narrow it (`Request<{ orgId: string }>`). */
export type RateLimitOptions<R extends AnyRequest = Request> = RateLimitBase<R>;
/** Options of {@link idempotency}: `scope` receives the Express `req`, typed as you narrow it. */
export type IdempotencyOptions<R extends AnyRequest = Request> = IdempotencyBase<R>;
/** Options of {@link adminRoutes}: `authorize` receives the Express `req`, typed as you narrow it. */
export type AdminRoutesOptions<R extends AnyRequest = Request> = AdminOptions<R>;

/**
 * Each middleware here: a `RequestHandler` generic in the route's types, so the params Express
 * infers from a path (`'/orgs/:orgId'`) still reach the handlers mounted after it.
 */
// biome-ignore lint/suspicious/noExplicitAny: Record<string, any> is Express's own bound.
export type Middleware = <P, ResBody, ReqBody, Query, Locals extends Record<string, any>>(
  req: Request<P, ResBody, ReqBody, Query, Locals>,
  res: Response<ResBody, Locals>,
  next: NextFunction,
) => void;
/** {@link errorHandler}: an `ErrorRequestHandler` generic in the route's types, as {@link Middleware}. */
// biome-ignore lint/suspicious/noExplicitAny: Record<string, any> is Express's own bound.
export type ErrorMiddleware = <P, ResBody, ReqBody, Query, Locals extends Record<string, any>>(
  error: unknown,
  req: Request<P, ResBody, ReqBody, Query, Locals>,
  res: Response<ResBody, Locals>,
  next: NextFunction,
) => void;
