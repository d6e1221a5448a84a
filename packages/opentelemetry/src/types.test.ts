import {
  BreakerRegistry,
  breakerRegistry,
  bulkhead,
  circuitBreaker,
  type Disposer,
  fallback,
  hedge,
  memoryStore,
  pipeline,
  rateLimiter,
  retry,
  timeout,
  tokenBucket,
} from '@resilience/core';
import { describe, expectTypeOf, it } from 'vitest';
import { annotateActiveSpan, instrument, instrumentAll } from './index.js';

// Typed, never called: what the TSDoc examples and docs/opentelemetry.md show must compile.
describe('@resilience/opentelemetry types', () => {
  it('instruments every policy kind, a shared breaker, a limiter with its usage and a registry', () => {
    const build = () => {
      const limiter = rateLimiter({ algorithm: tokenBucket({ capacity: 60, refillPerSecond: 1 }), name: 'openai' });
      const payments = pipeline(
        retry({ maxAttempts: 3 }),
        circuitBreaker({ name: 'payments' }),
        timeout(1_000),
        fallback(null),
      );
      const stops: Disposer[] = [
        instrument(payments, { name: 'payments' }),
        instrument(circuitBreaker({ store: memoryStore(), name: 'shared' }), { name: 'shared' }),
        instrument(bulkhead({ limit: 1 }), { name: 'b' }),
        instrument(hedge({ delayMs: 5 }), { name: 'h' }),
        instrument(limiter, {
          name: 'openai',
          usage: () => {
            const d = limiter.peekSync('openai');
            return { used: d.limit - d.remaining, limit: d.limit };
          },
        }),
        instrumentAll(breakerRegistry),
        instrumentAll(new BreakerRegistry()),
      ];
      return stops;
    };
    expectTypeOf(build).returns.toEqualTypeOf<Disposer[]>();
  });

  it('a rejection reason outside the list and a missing name are compile errors', () => {
    const build = () => {
      // @ts-expect-error not a RejectionReason
      annotateActiveSpan({ rejected: 'too_many' });
      // @ts-expect-error `name` is required
      instrument(retry(), {});
    };
    expectTypeOf(build).toBeFunction();
  });
});
