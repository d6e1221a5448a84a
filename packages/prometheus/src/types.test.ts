import {
  BreakerRegistry,
  breakerRegistry,
  circuitBreaker,
  memoryStore,
  metrics,
  rateLimiter,
  tokenBucket,
} from '@resilience/core';
import { Registry } from 'prom-client';
import { describe, expectTypeOf, it } from 'vitest';
import { type RegisteredMetrics, type ResilienceMetricsOptions, registerResilienceMetrics } from './index.js';

// Typed, never called: what the TSDoc examples and docs/prometheus.md show must compile.
describe('@resilience/prometheus types', () => {
  it('takes core’s collectors, breakers (local, shared, a registry) and a limiter’s usage', () => {
    const build = () => {
      const registry = new Registry();
      const limiter = rateLimiter({ algorithm: tokenBucket({ capacity: 60, refillPerSecond: 1 }), name: 'openai' });
      const shared = circuitBreaker({ store: memoryStore(), name: 'shared' });
      registerResilienceMetrics(registry, { collectors: metrics(), breakers: [circuitBreaker({ name: 'p' }), shared] });
      registerResilienceMetrics(registry, { collectors: { a: metrics(), b: metrics() }, breakers: breakerRegistry });
      registerResilienceMetrics(registry, { breakers: new BreakerRegistry() });
      const options = {
        rateLimits: [
          {
            name: 'openai',
            usage: () => {
              const d = limiter.peekSync('openai');
              return { used: d.limit - d.remaining, limit: d.limit };
            },
          },
        ],
        buckets: [0.1, 1],
      } satisfies ResilienceMetricsOptions;
      return registerResilienceMetrics(registry, options);
    };
    expectTypeOf(build).returns.toEqualTypeOf<RegisteredMetrics>();
  });

  it('misspelt options are compile errors', () => {
    const build = () => {
      // @ts-expect-error `collectors`, not `collector`
      registerResilienceMetrics(new Registry(), { collector: metrics() });
    };
    expectTypeOf(build).toBeFunction();
  });
});
