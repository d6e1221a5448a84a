import { health, tokenBucket } from '@resilience/core';
import Koa, { type DefaultContext, type Middleware, type ParameterizedContext } from 'koa';
import { describe, expectTypeOf, it } from 'vitest';
import {
  adminRoutes,
  errorHandler,
  healthRoutes,
  idempotency,
  loadShedding,
  rateLimit,
  requestSignal,
  timeout,
} from './index.js';

interface State {
  user?: { id: string; admin: boolean };
}
interface AppContext extends DefaultContext {
  db: { query(sql: string): Promise<unknown> };
}

// Typed, never served: each case builds an app and lets tsc check the middleware.
describe('@resilience/koa types', () => {
  const algorithm = tokenBucket({ capacity: 10, refillPerSecond: 1 });

  it('every middleware goes into an app typed with its own state and context', () => {
    const app = new Koa<State, AppContext>();
    app.use(errorHandler());
    app.use(timeout({ ms: 5_000 }));
    app.use(loadShedding({ maxConcurrent: 100 }));
    app.use(healthRoutes(health()));
    app.use(adminRoutes({ authorize: (ctx) => ctx.state.user?.admin === true }));
    app.use(rateLimit({ algorithm, key: (ctx) => ctx.state.user?.id ?? ctx.ip }));
    app.use(idempotency({ scope: (ctx) => ctx.state.user?.id }));
    app.use(async (ctx, next) => {
      expectTypeOf(ctx.state).toEqualTypeOf<State>();
      expectTypeOf(ctx.db.query).toBeFunction();
      expectTypeOf(requestSignal(ctx)).toEqualTypeOf<AbortSignal>();
      await next();
    });
  });

  it('a chained use keeps the app state and context after each middleware; callbacks take the app ctx', () => {
    const app = new Koa<State, AppContext>();
    type AppCtx = ParameterizedContext<State, AppContext>;
    const key = (ctx: AppCtx) => ctx.state.user?.id ?? ctx.ip;
    app
      .use(errorHandler())
      .use(timeout({ ms: 5_000 }))
      .use(loadShedding({ maxConcurrent: 100 }))
      .use(healthRoutes(health()))
      .use(adminRoutes({ authorize: (ctx: AppCtx) => ctx.state.user?.admin === true }))
      .use(rateLimit({ algorithm, key, skip: (ctx: AppCtx) => ctx.state.user?.admin === true, cost: () => 1 }))
      .use(idempotency({ scope: key }))
      .use(async (ctx, next) => {
        // @ts-expect-error a typo in the state is reported
        ctx.state.usr;
        expectTypeOf(ctx.state).toEqualTypeOf<State>();
        expectTypeOf(ctx.db.query).toBeFunction();
        await next();
      });
    // @ts-expect-error a callback takes a context
    rateLimit({ algorithm, key: (n: number) => String(n) });
    const list: Middleware<State, AppContext>[] = [rateLimit({ algorithm }), timeout({ ms: 1_000 })];
    expectTypeOf(list).not.toBeAny();
  });

  it('misspelt options are compile errors', () => {
    // Typed, never called: each would throw a ConfigurationError naming the option.
    const build = () => {
      // @ts-expect-error `windowMs` belongs to the algorithm (fixedWindow({ limit, windowMs })), not rateLimit
      rateLimit({ algorithm, windowMs: 60_000 });
      // @ts-expect-error koa-ratelimit's `duration` is not an option: give an algorithm
      rateLimit({ duration: 60_000 });
      // @ts-expect-error `maxConcurrent` is required
      loadShedding({ queue: 10 });
    };
    expectTypeOf(build).toBeFunction();
  });
});
