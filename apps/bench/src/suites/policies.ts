import {
  consecutive,
  circuitBreaker as ourBreaker,
  hedge as ourHedge,
  retry as ourRetry,
  timeout as ourTimeout,
  pipeline,
} from '@resilience/core';
import {
  ConsecutiveBreaker,
  circuitBreaker as cbBreaker,
  retry as cbRetry,
  timeout as cbTimeout,
  ExponentialBackoff,
  handleAll,
  TimeoutStrategy,
  wrap,
} from 'cockatiel';
import CircuitBreaker from 'opossum';
import pRetry from 'p-retry';
import { compare, type SuiteOptions, type Target } from '../harness.js';

// Policy overhead against cockatiel, opossum and p-retry (issue 3), all in one run.
// Success path: a trivial `async () => 1` through each policy.
// Failure path: a non-retryable error passing through a closed breaker, and calls rejected
// by an open breaker. Note: opossum computes rolling latency percentiles on each counted
// failure (sorting the current bucket), so its error-path figure grows with the failures in
// its 10 s window; it is measured with its defaults, as users run it.

const fn = async () => 1;
const failure = new Error('not retryable'); // one instance: the stack trace is not what we measure
const fail = async () => {
  throw failure;
};
const ignore = () => undefined;
const NEVER = 1e9; // a failure count or delay no benchmark reaches

function successTasks() {
  // Ours: retry handles every error (as cockatiel's handleAll), breaker opens after 5 consecutive failures.
  const retry = ourRetry({ maxAttempts: 3, handle: () => true });
  const breaker = ourBreaker({ strategy: consecutive(5), halfOpenAfter: 10_000, name: 'bench-success' });
  // Timeouts: the default (aggressive: the call returns at the limit) against cockatiel's
  // aggressive strategy, and the cooperative strategy against cockatiel's cooperative one.
  const timeout = ourTimeout(1_000);
  const cooperativeTimeout = ourTimeout(1_000, { strategy: 'cooperative' });
  // Adaptive variants (issues 3 and 5): the limit / delay is a learned percentile, cached and
  // refreshed every 1 000 calls or 1 s; each success records its latency in the policy's sketch.
  // `fn` answers in ~0 ms, so the learned values sit at `min` and never fire.
  const learnedTimeout = ourTimeout({ ms: 'p99', min: 1_000, max: 10_000 });
  const fixedHedge = ourHedge({ delayMs: 1_000 });
  const learnedHedge = ourHedge({ delayMs: 'p95', min: 1_000 });
  const all = pipeline(
    ourRetry({ maxAttempts: 3, handle: () => true }),
    ourBreaker({ strategy: consecutive(5), halfOpenAfter: 10_000, name: 'bench-pipeline' }),
    ourTimeout(1_000, { strategy: 'cooperative' }),
  );

  const cRetry = cbRetry(handleAll, { maxAttempts: 3, backoff: new ExponentialBackoff() });
  const cBreaker = cbBreaker(handleAll, { halfOpenAfter: 10_000, breaker: new ConsecutiveBreaker(5) });
  const cTimeout = cbTimeout(1_000, TimeoutStrategy.Aggressive);
  const cCooperativeTimeout = cbTimeout(1_000, TimeoutStrategy.Cooperative);
  const cWrap = wrap(
    cbRetry(handleAll, { maxAttempts: 3, backoff: new ExponentialBackoff() }),
    cbBreaker(handleAll, { halfOpenAfter: 10_000, breaker: new ConsecutiveBreaker(5) }),
    cbTimeout(1_000, TimeoutStrategy.Cooperative),
  );

  const oTimeout = new CircuitBreaker(fn, { timeout: 1_000 });
  const oNoTimeout = new CircuitBreaker(fn, { timeout: false });

  return [
    ['bare call', () => fn()],
    ['ours retry', () => retry.execute(fn)],
    ['ours circuitBreaker', () => breaker.execute(fn)],
    ['ours timeout (default: aggressive)', () => timeout.execute(fn)],
    ["ours timeout({ strategy: 'cooperative' })", () => cooperativeTimeout.execute(fn)],
    ["ours timeout({ ms: 'p99' }) learned", () => learnedTimeout.execute(fn)],
    ['ours hedge({ delayMs: 1_000 })', () => fixedHedge.execute(fn)],
    ["ours hedge({ delayMs: 'p95' }) learned", () => learnedHedge.execute(fn)],
    ['ours pipeline(retry, breaker, timeout)', () => all.execute(fn)],
    ['cockatiel retry', () => cRetry.execute(fn)],
    ['cockatiel circuitBreaker', () => cBreaker.execute(fn)],
    ['cockatiel timeout (aggressive)', () => cTimeout.execute(fn)],
    ['cockatiel timeout (cooperative)', () => cCooperativeTimeout.execute(fn)],
    ['cockatiel wrap(retry, breaker, timeout)', () => cWrap.execute(fn)],
    ['opossum fire() with timeout', () => oTimeout.fire()],
    ['opossum fire() without timeout', () => oNoTimeout.fire()],
    ['p-retry', () => pRetry(fn, { retries: 2 })],
  ] as [string, () => unknown][];
}

function failureTasks() {
  // Closed breakers that never open: the error passes through and is counted.
  const ours = ourBreaker({ strategy: consecutive(NEVER), halfOpenAfter: 10_000, name: 'bench-failure' });
  const cockatiel = cbBreaker(handleAll, { halfOpenAfter: 10_000, breaker: new ConsecutiveBreaker(NEVER) });
  const opossum = new CircuitBreaker(fail, { timeout: false, volumeThreshold: NEVER });

  // Open breakers: tripped once, never half-open within the run.
  const oursOpen = ourBreaker({ strategy: consecutive(1), halfOpenAfter: NEVER, name: 'bench-open' });
  const cockatielOpen = cbBreaker(handleAll, { halfOpenAfter: NEVER, breaker: new ConsecutiveBreaker(1) });
  const opossumOpen = new CircuitBreaker(fail, { timeout: false, resetTimeout: NEVER });
  oursOpen.execute(fail).catch(ignore);
  cockatielOpen.execute(fail).catch(ignore);
  opossumOpen.open();

  return [
    ['ours error through breaker', () => ours.execute(fail).catch(ignore)],
    ['cockatiel error through breaker', () => cockatiel.execute(fail).catch(ignore)],
    ['opossum error through breaker', () => opossum.fire().catch(ignore)],
    ['ours open-breaker rejection', () => oursOpen.execute(fn).catch(ignore)],
    ['cockatiel open-breaker rejection', () => cockatielOpen.execute(fn).catch(ignore)],
    ['opossum open-breaker rejection', () => opossumOpen.fire().catch(ignore)],
  ] as [string, () => unknown][];
}

const successTargets: Target[] = [
  { ours: 'ours pipeline(retry, breaker, timeout)', peer: 'cockatiel wrap(retry, breaker, timeout)', maxRatio: 0.05 },
  { ours: 'ours pipeline(retry, breaker, timeout)', peer: 'opossum fire() with timeout', maxRatio: 0.75 },
  { ours: 'ours retry', peer: 'cockatiel retry', maxRatio: 0.75 },
  { ours: 'ours circuitBreaker', peer: 'cockatiel circuitBreaker', maxRatio: 0.75 },
  { ours: 'ours timeout (default: aggressive)', peer: 'cockatiel timeout (aggressive)', maxRatio: 0.05 },
];

const failureTargets: Target[] = [
  { ours: 'ours open-breaker rejection', peer: 'cockatiel open-breaker rejection', maxRatio: 0.5 },
  { ours: 'ours open-breaker rejection', peer: 'opossum open-breaker rejection', maxRatio: 0.5 },
];

export default async function policies(options: SuiteOptions): Promise<void> {
  await compare('policies: success-path overhead of `async () => 1`', successTasks(), {
    ...options,
    targets: successTargets,
  });
  await compare('policies: failure path (non-retryable error, open breaker)', failureTasks(), {
    ...options,
    targets: failureTargets,
  });
}
