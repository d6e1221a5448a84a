import { health, tokenBucket } from '@resilience/core';
import { Registry } from 'prom-client';

/** The eight middleware factories both server adapters export under the same names. */
type Factories = Record<
  | 'rateLimit'
  | 'idempotency'
  | 'timeout'
  | 'loadShedding'
  | 'healthRoutes'
  | 'metricsRoute'
  | 'adminRoutes'
  | 'errorHandler',
  // biome-ignore lint/suspicious/noExplicitAny: each adapter types its options for its own framework
  (...args: any[]) => unknown
>;

/** One of each middleware of an adapter (`import * as adapter from '@resilience/express'`), by name. */
export function everyMiddleware(adapter: Factories): Record<keyof Factories, unknown> {
  return {
    rateLimit: adapter.rateLimit({ algorithm: tokenBucket({ capacity: 1, refillPerSecond: 1 }) }),
    idempotency: adapter.idempotency(),
    timeout: adapter.timeout({ ms: 1_000 }),
    loadShedding: adapter.loadShedding({ maxConcurrent: 1 }),
    healthRoutes: adapter.healthRoutes(health()),
    metricsRoute: adapter.metricsRoute({ registry: new Registry() }),
    adminRoutes: adapter.adminRoutes({ authorize: () => false }),
    errorHandler: adapter.errorHandler(),
  };
}
