import { describe, expect, it } from 'vitest';
import { circuitBreaker } from '../breaker/breaker.js';
import { retry } from '../retry/retry.js';
import { timeout } from '../timeout/timeout.js';

// `retry.execute(timeout(5_000))`, as a newcomer combines two policies: said as a policy, with
// how to combine them, not as "received object".
describe('a policy given where the function goes', () => {
  it('execute rejects naming it a policy and pipeline', async () => {
    const policy = retry({ maxAttempts: 2 });
    await expect(policy.execute(timeout(5_000) as never)).rejects.toThrow(
      'retry.execute: fn: expected a function, received a policy: combine policies with pipeline(outer, inner)',
    );
  });

  it('wrap throws the same', () => {
    const breaker = circuitBreaker({ registry: false });
    expect(() => breaker.wrap(retry() as never)).toThrow(
      /\.wrap: fn: expected a function, received a policy: combine policies with pipeline\(outer, inner\)$/,
    );
  });
});
