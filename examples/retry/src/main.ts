import { backoff, retry } from '@resilience/core';
import { faultInjector } from '@resilience/core/testing';

// A flaky upstream: 3 in 5 calls fail with a connection reset, like a provider under load.
let seed = 7;
const random = () => {
  seed = (seed * 48_271) % 2_147_483_647;
  return seed / 2_147_483_647;
};
const upstream = faultInjector(async () => ({ answer: 42 }), { failureRate: 0.6, random });

const policy = retry({
  maxAttempts: 6,
  backoff: backoff.exponential({ initialMs: 20, maxMs: 200, jitter: 'full' }),
  random,
});
policy.onRetry(({ attempt, delayMs, error }) =>
  console.log(`  attempt ${attempt} failed (${(error as Error).message}); retrying in ${delayMs.toFixed(0)} ms`),
);

const requests = 10;
let succeeded = 0;
for (let i = 1; i <= requests; i++) {
  console.log(`request ${i}`);
  try {
    const body = await policy.execute(upstream);
    succeeded++;
    console.log(`  ok: ${JSON.stringify(body)}`);
  } catch (error) {
    console.log(`  gave up: ${(error as Error).message}`);
  }
}

const { attempts, retries, totalDelayMs } = policy.stats;
console.log(
  `\n${succeeded}/${requests} requests succeeded against an upstream that failed ${upstream.failures} of ${upstream.calls} calls` +
    ` (${attempts} attempts, ${retries} retries, ${totalDelayMs.toFixed(0)} ms spent waiting).`,
);
