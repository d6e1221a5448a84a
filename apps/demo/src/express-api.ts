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
} from '@resilience/express';
import express, { type Express, Router } from 'express';
import { type ApiKit, clientKey, type OrderBody, quietLogger } from './api-kit.js';

/**
 * What operators and their tools read — health, Prometheus metrics, the admin routes behind
 * the demo token — then load shedding for everything after it. The tRPC server mounts it too.
 */
export function operations(kit: ApiKit): Router {
  const router = Router();
  router.use(healthRoutes(kit.probes));
  router.use(metricsRoute({ registry: kit.registry }));
  router.use(
    adminRoutes({
      authorize: (req) => kit.authorized(req.get('authorization')),
      collectors: kit.collectors,
      recentErrors: kit.errors,
      alerting: kit.alerts,
      health: kit.probes,
    }),
  );
  router.use(loadShedding({ maxConcurrent: 200, queue: 100, maxQueueMs: 1_000 }));
  return router;
}

/** The Express API: the provider through axios. */
export function expressApp(kit: ApiKit): Express {
  const app = express();
  app.use(operations(kit));
  app.use(timeout({ ms: 25_000 }));
  // A checked API key, else '': the client address, IPv6 by /56 (see clientKey).
  app.use(rateLimit({ limiter: kit.limiter, logger: quietLogger, key: (req) => clientKey(req.get('x-api-key')) }));
  app.use(
    idempotency({
      logger: quietLogger,
      scope: (req) => clientKey(req.get('x-api-key')) || undefined,
      ...(kit.store && { store: kit.store }),
    }),
  );
  app.use(express.json());

  app.get('/quote', async (req, res) => {
    const requestId = req.get('x-request-id') ?? '';
    res.json(await kit.upstream.quote({ requestId, signal: requestSignal(req) }));
  });
  app.post('/orders', async (req, res) => {
    const body = req.body as OrderBody;
    const order = { ...body, requestId: req.get('x-request-id') ?? '' };
    res.status(201).json(await kit.orders.run(order, requestSignal(req)));
  });

  app.use(errorHandler({ collector: kit.stats, recentErrors: kit.errors, logger: quietLogger }));
  return app;
}
