import { describe, expect, it } from 'vitest';
import { circuitBreaker } from '../breaker/breaker.js';
import { countWindow } from '../breaker/strategy.js';
import type { Random } from '../clock/clock.js';
import { FakeClock } from '../clock/fake-clock.js';
import { seededRandom } from '../clock/seeded-random.js';
import { ConfigurationError, RetryExhaustedError } from '../errors/errors.js';
import type { ExecuteContext } from '../policy/policy.js';
import { rateLimiter } from '../ratelimit/limiter.js';
import { tokenBucket } from '../ratelimit/token-bucket.js';
import { backoff } from '../retry/backoff.js';
import { retry } from '../retry/retry.js';
import { timeout } from '../timeout/timeout.js';
import { pipeline } from './pipeline.js';

/** The README's quick-start pipeline (docs/pipeline.md's order), on the test's clock and random source. */
function recommendedPipeline(clock: FakeClock, random: Random) {
  const quota = rateLimiter({ algorithm: tokenBucket({ capacity: 60, refillPerSecond: 1 }), clock });
  return pipeline(
    quota.policy({ key: 'llm-provider' }),
    timeout(30_000, { name: 'total', clock }),
    retry({ maxAttempts: 4, backoff: backoff.exponential({ initialMs: 200, jitter: 'full' }), clock, random }),
    circuitBreaker({
      name: 'llm-provider',
      strategy: countWindow({ size: 20, failureRate: 0.75, minimumCalls: 20 }),
      halfOpenAfter: 60_000,
      clock,
      registry: false,
    }),
    timeout(10_000, { name: 'attempt', clock }),
  );
}

const TRANSIENT = [
  () => Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }),
  () => Object.assign(new Error('HTTP 503'), { status: 503 }),
  () => Object.assign(new Error('connect ETIMEDOUT'), { code: 'ETIMEDOUT' }),
  () => Object.assign(new Error('HTTP 429'), { status: 429 }),
];

/** An upstream answering in 50 ms that fails `rate` of its calls with a transient error; logs each attempt. */
function flakyUpstream(clock: FakeClock, random: Random, rate: number) {
  const log = { calls: 0, failures: 0 };
  const call = async (request: number, { signal }: ExecuteContext, failed: number[]) => {
    log.calls++;
    await clock.sleep(50, signal);
    if (random() >= rate) return 'ok';
    log.failures++;
    failed[request] = (failed[request] ?? 0) + 1;
    throw TRANSIENT[Math.floor(random() * TRANSIENT.length)]!();
  };
  return { call, log };
}

/** Sends `count` requests, one a second (the quota's rate), and settles them all. */
async function drive(clock: FakeClock, send: (request: number) => Promise<unknown>, count: number) {
  const outcomes: Promise<unknown>[] = [];
  for (let i = 0; i < count; i++) {
    outcomes.push(
      send(i).then(
        () => 'ok',
        (error: unknown) => error,
      ),
    );
    await clock.advance(1_000);
  }
  await clock.runAll();
  return Promise.all(outcomes);
}

describe('recovery of transient failures through the recommended pipeline', () => {
  it('recovers at least 99 % of 1 000 requests when 30 % of upstream calls fail transiently', async () => {
    const clock = new FakeClock();
    const upstream = flakyUpstream(clock, seededRandom(1), 0.3);
    const provider = recommendedPipeline(clock, seededRandom(2));
    const failedAttempts: number[] = [];
    const outcomes = await drive(clock, (i) => provider.execute((ctx) => upstream.call(i, ctx, failedAttempts)), 1_000);

    const { calls, failures } = upstream.log;
    expect(failures / calls).toBeCloseTo(0.3, 1); // the upstream was that flaky
    const lost = outcomes.flatMap((outcome, i) => (outcome === 'ok' ? [] : [i]));
    // Only a request whose four attempts all failed is lost (expected: 0.3⁴ = 0.81 % of them):
    // no request is refused by the breaker, the quota or a timeout.
    for (const i of lost) {
      expect(outcomes[i]).toBeInstanceOf(RetryExhaustedError);
      expect(failedAttempts[i]).toBe(4);
    }
    expect((1_000 - lost.length) / 1_000).toBeGreaterThanOrEqual(0.99);
  }, 60_000);

  it('still fails fast when the upstream is down: the breaker opens after 20 failed attempts', async () => {
    const clock = new FakeClock();
    const upstream = flakyUpstream(clock, seededRandom(1), 1);
    const provider = recommendedPipeline(clock, seededRandom(2));
    const opened: number[] = [];
    provider.onEvent((e) => {
      if (e.type === 'state_change' && e.to === 'open') opened.push(upstream.log.failures);
    });
    const outcomes = await drive(clock, (i) => provider.execute((ctx) => upstream.call(i, ctx, [])), 20);
    expect(opened).toEqual([20]);
    // Then no call reaches the upstream, except the sixth request's first attempt, admitted
    // while the fifth was still retrying.
    expect(upstream.log.calls).toBe(21);
    expect(outcomes.slice(5).every((o) => (o as Error).name === 'BrokenCircuitError')).toBe(true);
  });

  it('never retries errors that retrying cannot fix: configuration, spent budget, validation, auth', async () => {
    const notRecoverable: Record<string, () => unknown> = {
      configuration: () => new ConfigurationError('client', [{ option: 'apiKey', received: '', allowed: 'a key' }]),
      'spent budget (OpenAI insufficient_quota, a 429)': () =>
        Object.assign(new Error('You exceeded your current quota'), {
          status: 429,
          code: 'insufficient_quota',
          type: 'insufficient_quota',
        }),
      'spent budget (Anthropic credit balance, a 400)': () =>
        Object.assign(new Error('Your credit balance is too low'), { status: 400 }),
      'validation (400)': () => Object.assign(new Error('HTTP 400'), { status: 400 }),
      'validation (422)': () => Object.assign(new Error('HTTP 422'), { status: 422 }),
      'validation (a schema error)': () => Object.assign(new Error('expected string'), { name: 'ZodError' }),
      'validation (TypeError)': () => new TypeError('prompt.map is not a function'),
      'auth (401)': () => Object.assign(new Error('HTTP 401'), { status: 401 }),
    };
    for (const [kind, make] of Object.entries(notRecoverable)) {
      const clock = new FakeClock();
      const provider = recommendedPipeline(clock, seededRandom(2));
      const error = make();
      let calls = 0;
      const outcomes = await drive(
        clock,
        () =>
          provider.execute(() => {
            calls++;
            throw error;
          }),
        3,
      );
      expect({ kind, calls, outcomes }).toEqual({ kind, calls: 3, outcomes: [error, error, error] });
    }
  });
});
