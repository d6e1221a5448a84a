import { health, tokenBucket } from '@resilience/core';
import express, {
  type ErrorRequestHandler,
  type NextFunction,
  type Request,
  type RequestHandler,
  type Response,
} from 'express';
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

// Typed, never served: each case builds an app and lets tsc check the handlers.
describe('@resilience/express types', () => {
  const algorithm = tokenBucket({ capacity: 10, refillPerSecond: 1 });

  it('every middleware goes into app.use, a route and a Router, before typed handlers', () => {
    const app = express();
    app.use(timeout({ ms: 5_000 }), loadShedding({ maxConcurrent: 100 }), healthRoutes(health()));
    app.use(adminRoutes({ authorize: (req) => req.get('authorization') === 'Bearer x' }));
    const router = express.Router();
    router.use(rateLimit({ algorithm }));
    router.post(
      '/pay',
      idempotency(),
      (req: Request<{ id: string }, { ok: boolean }>, res: Response<{ ok: boolean }>) => {
        expectTypeOf(req.params.id).toEqualTypeOf<string>();
        res.json({ ok: true });
      },
    );
    app.use('/api', router);
    app.use(errorHandler());
    expectTypeOf(app).not.toBeAny();
  });

  it('option callbacks receive the Express req; requestSignal takes any typed req', () => {
    rateLimit({
      algorithm,
      key: (req) => req.ip ?? 'anon',
      skip: (req) => req.path === '/health',
      cost: (req) => (req.method === 'POST' ? 2 : 1),
    });
    idempotency({ scope: (req) => req.get('x-tenant') });
    const handler = (req: Request<{ id: string }>, _res: Response, next: NextFunction) => {
      expectTypeOf(requestSignal(req)).toEqualTypeOf<AbortSignal>();
      next();
    };
    expectTypeOf(handler).toBeFunction();
  });

  it('route params reach a handler behind every middleware; callbacks take the req they narrow', () => {
    const app = express();
    const [limit, cap] = [rateLimit({ algorithm }), timeout({ ms: 1_000 })];
    app.get(
      '/orgs/:orgId',
      limit,
      cap,
      loadShedding({ maxConcurrent: 1 }),
      idempotency(),
      healthRoutes(health()),
      adminRoutes({ authorize: () => true }),
      (req, res) => {
        expectTypeOf(req.params.orgId).toEqualTypeOf<string>();
        res.end();
      },
    );
    app.put('/orgs/:orgId', errorHandler(), (req, res) => res.send(req.params.orgId satisfies string));
    app.use([limit, cap], errorHandler());
    express.Router().use(limit, [cap]);
    const handlers: { plain: RequestHandler; failed: ErrorRequestHandler } = { plain: limit, failed: errorHandler() };
    expectTypeOf(handlers).not.toBeAny();
    interface OrgParams {
      orgId: string;
    }
    type OrgRequest = Request<OrgParams>;
    rateLimit({
      algorithm,
      key: (req: OrgRequest) => req.params.orgId,
      skip: (req: OrgRequest) => req.params.orgId === 'root',
      cost: (req: Request<{ orgId: string }, unknown, { items: string[] }>) => req.body.items.length,
    });
    idempotency({ scope: (req: OrgRequest) => req.params.orgId });
    adminRoutes({ authorize: (req: OrgRequest) => req.params.orgId === 'root' });
    // @ts-expect-error a callback takes a request
    rateLimit({ algorithm, key: (n: number) => String(n) });
  });

  it('misspelt options are compile errors', () => {
    // Typed, never called: each would throw a ConfigurationError naming the option.
    const build = () => {
      // @ts-expect-error `windowMs` belongs to the algorithm (fixedWindow({ limit, windowMs })), not rateLimit
      rateLimit({ algorithm, windowMs: 60_000 });
      // @ts-expect-error express-rate-limit's `max` is not an option: give an algorithm
      rateLimit({ max: 100 });
      // @ts-expect-error `timeoutMs` is `ms`
      timeout({ timeoutMs: 1_000 });
    };
    expectTypeOf(build).toBeFunction();
  });
});
