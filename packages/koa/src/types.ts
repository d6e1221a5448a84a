// The public types of @resilience/koa, generic in the app's Koa context; index.ts re-exports
// them.
import type {
  AdminRoutesOptions as AdminOptions,
  IdempotencyOptions as IdempotencyBase,
  RateLimitOptions as RateLimitBase,
} from '@resilience/node-server';
import type { Context, Next, ParameterizedContext } from 'koa';

/** Options of {@link rateLimit}: functions receive the Koa `ctx`, typed as your app's (`ParameterizedContext<State, Ctx>`). */
export type RateLimitOptions<C extends Context = Context> = RateLimitBase<C>;
/** Options of {@link idempotency}: `scope` receives the Koa `ctx`, typed as your app's. */
export type IdempotencyOptions<C extends Context = Context> = IdempotencyBase<C>;
/** Options of {@link adminRoutes}: `authorize` receives the Koa `ctx`, typed as your app's. */
export type AdminRoutesOptions<C extends Context = Context> = AdminOptions<C>;

/**
 * Each middleware here: generic in the app's state and context, so `app.use(timeout(...)).use(...)`
 * keeps `new Koa<State, Ctx>()`'s types for the middleware after it.
 */
export type Middleware = <S, C>(ctx: ParameterizedContext<S, C>, next: Next) => unknown;
