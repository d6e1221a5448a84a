import { health, tokenBucket } from '@resilience/core';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import {
  adminRoutes,
  errorHandler,
  healthRoutes,
  idempotency,
  loadShedding,
  metricsRoute,
  rateLimit,
  timeout,
} from './index.js';

// Koa calls a middleware with (ctx, next). Mounted there, each one of this package says which
// package to import it from at the first request, not a TypeError from inside it.
const middleware = {
  rateLimit: rateLimit({ algorithm: tokenBucket({ capacity: 1, refillPerSecond: 1 }) }),
  idempotency: idempotency(),
  timeout: timeout({ ms: 1_000 }),
  loadShedding: loadShedding({ maxConcurrent: 1 }),
  healthRoutes: healthRoutes(health()),
  metricsRoute: metricsRoute({ registry: new Registry() }),
  adminRoutes: adminRoutes({ authorize: () => false }),
  errorHandler: errorHandler(),
};

describe('Express middleware mounted on Koa', () => {
  for (const [name, fn] of Object.entries(middleware)) {
    it(`${name} names @resilience/koa at the first request`, () => {
      const ctx = { method: 'GET', path: '/', url: '/', headers: {}, state: {} };
      const call = fn as unknown as (ctx: unknown, next: () => Promise<void>) => unknown;
      expect(() => call(ctx, async () => {})).toThrow(
        `Invalid ${name} options: framework: received "Koa", expected Express (on Koa: import ${name} from '@resilience/koa')`,
      );
    });
  }
});
