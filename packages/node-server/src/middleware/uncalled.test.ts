import { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { adminRoute } from './admin-routes.js';
import { errorHandling } from './error-handler.js';
import { healthRoute } from './health-routes.js';
import { idempotencyStep } from './idempotency.js';
import { loadShedder } from './load-shedding.js';
import { metricsRoute } from './metrics-route.js';
import { rateLimitCheck } from './rate-limit.js';
import { timeoutArm } from './timeout.js';

const req = () => new IncomingMessage(new Socket());
const message = (f: () => unknown) => {
  try {
    f();
  } catch (error) {
    return (error as Error).message;
  }
  return 'accepted';
};

describe('a middleware factory mounted uncalled', () => {
  // As Express calls it (the request first) and as Koa does (its context, which holds the request as `req`).
  const asMounted = [
    ['Express', req],
    ['Koa', () => ({ req: req(), app: {}, request: {}, response: {} })],
  ] as const;
  const factories: Array<[string, (first: never) => unknown]> = [
    ['rateLimit', (r) => rateLimitCheck(r, {} as never)],
    ['idempotency', (r) => idempotencyStep(r, {} as never)],
    ['timeout', (r) => timeoutArm(r, (() => {}) as never)],
    ['loadShedding', (r) => loadShedder(r, (() => {}) as never)],
    ['errorHandler', (r) => errorHandling(r)],
    ['healthRoutes', (r) => healthRoute(r)],
    ['metricsRoute', (r) => metricsRoute(r)],
    ['adminRoutes', (r) => adminRoute(r)],
  ];
  it.each(asMounted)('says so on %s, naming the call to write', (_framework, first) => {
    for (const [name, make] of factories) {
      expect(message(() => make(first() as never))).toBe(
        `Invalid ${name} options: options: received an IncomingMessage, expected options, not a request: ${name}(...) makes the middleware, so mount what it returns (app.use(${name}(...)))`,
      );
    }
  });
});
