import { describe, expect, it } from 'vitest';
import { circuitBreaker } from '../breaker/breaker.js';
import { consecutive } from '../breaker/strategy.js';
import { bulkhead } from '../bulkhead/bulkhead.js';
import { FakeClock } from '../clock/fake-clock.js';
import { fallback } from '../fallback/fallback.js';
import { hedge } from '../hedging/hedge.js';
import { pipeline } from '../pipeline/pipeline.js';
import { rateLimiter } from '../ratelimit/limiter.js';
import { tokenBucket } from '../ratelimit/token-bucket.js';
import { retry } from '../retry/retry.js';
import { memoryStore } from '../store/memory.js';
import { timeout } from '../timeout/timeout.js';
import type { PolicyFn } from './policy.js';

type Execute = (fn: PolicyFn<string>, signal: AbortSignal) => Promise<unknown>;

/** Every way to run a function under a policy with a caller's signal. */
function subjects(clock: FakeClock): Record<string, Execute> {
  const limiter = rateLimiter({ algorithm: tokenBucket({ capacity: 10, refillPerSecond: 1 }), clock });
  const policies = {
    retry: retry({ clock, handle: () => true }),
    circuitBreaker: circuitBreaker({ strategy: consecutive(3), clock, registry: false }),
    'circuitBreaker({ store })': circuitBreaker({
      strategy: consecutive(3),
      clock,
      store: memoryStore(),
      registry: false,
    }),
    timeout: timeout(1_000, { clock }),
    "timeout({ ms: 'p99' })": timeout({ ms: 'p99', min: 10, max: 1_000, clock }),
    bulkhead: bulkhead({ limit: 1 }),
    fallback: fallback('substitute'),
    hedge: hedge({ delayMs: 10, clock }),
    pipeline: pipeline(retry({ clock }), timeout(1_000, { clock })),
    'rateLimiter.policy': limiter.policy({ key: 'k' }),
  };
  const all: Record<string, Execute> = {};
  for (const [name, policy] of Object.entries(policies)) all[name] = (fn, signal) => policy.execute(fn, signal);
  all['rateLimiter.execute'] = (fn, signal) => limiter.execute('k', fn, { signal });
  return all;
}

describe.each(Object.keys(subjects(new FakeClock())))('%s with an already aborted signal', (name) => {
  it('never calls the function and rejects with the signal’s reason', async () => {
    const clock = new FakeClock();
    const execute = subjects(clock)[name]!;
    let calls = 0;
    const reason = new Error('the caller has gone');
    const outcome = await execute(() => {
      calls++;
      return 'called';
    }, AbortSignal.abort(reason)).catch((e: unknown) => e);
    await clock.runAll();
    expect(calls).toBe(0);
    expect(outcome).toBe(reason);
  });
});
