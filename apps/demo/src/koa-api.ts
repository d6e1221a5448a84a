import { bodyParser } from '@koa/bodyparser';
import {
  adminRoutes,
  errorHandler,
  healthRoutes,
  idempotency,
  loadShedding,
  metricsRoute,
  rateLimit,
  requestSignal,
  timeout,
} from '@resilience/koa';
import Koa from 'koa';
import { type ApiKit, clientKey, type OrderBody, quietLogger } from './api-kit.js';

/** The Koa API: the provider through the resilient fetch. */
export function koaApp(kit: ApiKit) {
  const app = new Koa();
  app.use(errorHandler({ collector: kit.stats, recentErrors: kit.errors, logger: quietLogger })); // first: it wraps the rest
  app.use(healthRoutes(kit.probes));
  app.use(metricsRoute({ registry: kit.registry }));
  app.use(
    adminRoutes({
      authorize: (ctx) => kit.authorized(ctx.get('authorization') || undefined),
      collectors: kit.collectors,
      recentErrors: kit.errors,
      alerting: kit.alerts,
      health: kit.probes,
    }),
  );
  app.use(loadShedding({ maxConcurrent: 200, queue: 100, maxQueueMs: 1_000 }));
  app.use(timeout({ ms: 25_000 }));
  // A checked API key, else '': the client address, IPv6 by /56 (see clientKey).
  app.use(rateLimit({ limiter: kit.limiter, logger: quietLogger, key: (ctx) => clientKey(ctx.get('x-api-key')) }));
  app.use(
    idempotency({
      logger: quietLogger,
      scope: (ctx) => clientKey(ctx.get('x-api-key')) || undefined,
      ...(kit.store && { store: kit.store }),
    }),
  );
  app.use(bodyParser());

  app.use(async (ctx) => {
    const requestId = ctx.get('x-request-id');
    if (ctx.method === 'GET' && ctx.path === '/quote') {
      ctx.body = await kit.upstream.quote({ requestId, signal: requestSignal(ctx) });
    } else if (ctx.method === 'POST' && ctx.path === '/orders') {
      const body = ctx.request.body as OrderBody;
      ctx.body = await kit.orders.run({ ...body, requestId }, requestSignal(ctx));
      ctx.status = 201;
    }
  });
  return app;
}
