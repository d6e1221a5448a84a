import { describe, expect, it } from 'vitest';
import { circuitBreaker } from '../breaker/breaker.js';
import { consecutive } from '../breaker/strategy.js';
import type { Clock } from '../clock/clock.js';
import { FakeClock } from '../clock/fake-clock.js';
import { Emitter } from '../events/emitter.js';
import { pipeline } from '../pipeline/pipeline.js';
import type { PolicyEvent } from '../policy/policy.js';
import { backoff } from '../retry/backoff.js';
import { retry } from '../retry/retry.js';
import { timeout } from '../timeout/timeout.js';
import { metrics } from './metrics.js';
import { observe } from './observe.js';

/** The README's layering (retry, breaker, attempt timeout) on a fake clock, with its layers for observing. */
function provider(clock: FakeClock) {
  const retrier = retry({ maxAttempts: 3, backoff: backoff.constant(100), handle: () => true, clock });
  const breaker = circuitBreaker({ strategy: consecutive(5), halfOpenAfter: 1_000, clock, registry: false });
  const inner = pipeline(breaker, timeout(1_000, { clock, strategy: 'aggressive' }));
  return { retrier, breaker, inner, policy: pipeline(retrier, inner) };
}

/** A call that takes `ms` on the clock, then fails when `fail` is set. */
const call =
  (clock: FakeClock, ms: number, fail = false) =>
  async () => {
    await clock.sleep(ms);
    if (fail) throw new Error('HTTP 503');
    return 'ok';
  };

/** Runs `calls` to completion on the fake clock. */
async function settle(clock: FakeClock, calls: Promise<unknown>[]): Promise<void> {
  await clock.runAll();
  await Promise.allSettled(calls);
}

const source = () => {
  const events = new Emitter<PolicyEvent & Record<string, unknown>>();
  return { events, policy: { onEvent: events.subscribe } };
};

describe('observe', () => {
  it('counts the retries and give-up of a real retry policy', async () => {
    const clock = new FakeClock();
    const policy = retry({ maxAttempts: 3, backoff: backoff.constant(100), handle: () => true, clock });
    const stats = metrics({ clock });
    observe(policy, stats);
    const call = policy.execute(() => Promise.reject(new Error('boom'))).catch((e: unknown) => e);
    await clock.advance(1_000);
    await call;
    const { lifetime, retries } = stats.snapshot();
    expect(retries).toBe(2);
    expect(lifetime).toMatchObject({ retries: 2, giveUps: 1, attempts: 3 });
  });

  it('counts the attempts of every call a retry policy settles', async () => {
    const clock = new FakeClock();
    const policy = retry({ maxAttempts: 3, backoff: backoff.constant(100), handle: () => true, clock });
    const stats = observe(policy, metrics({ clock })).collector;
    await policy.execute(() => 'first time');
    let failures = 1;
    const call = policy.execute(() => (failures-- > 0 ? Promise.reject(new Error('once')) : 'second time'));
    await clock.advance(100);
    await call;
    const s = stats.snapshot();
    expect([s.attempts, s.lifetime.attempts, s.retries]).toEqual([3, 3, 1]);
  });

  it("counts an event of a source of one's own that names no policy under 'unknown', throwing nothing into the source", () => {
    const listeners: Array<(event: unknown) => void> = [];
    const stats = observe({
      onEvent: (l: (event: never) => void) => void listeners.push(l as never),
    } as never).collector;
    const emit = (event: object) => {
      for (const l of listeners) l(event); // no Emitter around it: a throw would reach the source
    };
    emit({ type: 'rejected' });
    emit({ type: 'state_change', to: 'open', policy: 42 });
    const { lifetime, ...window } = stats.snapshot();
    expect(lifetime.rejections).toEqual({ unknown: 1 });
    expect([window.rejections, window.breakerOpens, lifetime.stateChanges]).toEqual([1, 1, 1]);
    expect(lifetime.circuits).toEqual({ unknown: 'open' });
  });

  it('counts nothing when a direct call names no reason or breaker (a TypeError, not counts out of step)', () => {
    const stats = metrics();
    expect(() => stats.recordRejection(undefined as never)).toThrow(TypeError);
    expect(() => stats.recordStateChange(undefined as never, 'open')).toThrow(TypeError);
    const { lifetime, ...window } = stats.snapshot();
    expect([window.rejections, window.breakerOpens, lifetime.stateChanges]).toEqual([0, 0, 0]);
  });

  it('counts rejections by reason, falling back to the policy name', () => {
    const { events, policy } = source();
    const stats = observe(policy).collector;
    events.emit({ type: 'rejected', policy: 'bulkhead' });
    events.emit({ type: 'rejected', policy: 'breaker', reason: 'circuit_open' });
    events.emit({ type: 'rate_limited', policy: 'limiter' });
    events.emit({ type: 'rejected', policy: 'payments', state: 'open', retryAfterMs: 100 });
    events.emit({ type: 'rejected', policy: 'payments', state: 'half-open', retryAfterMs: 0 });
    expect(stats.snapshot().lifetime.rejections).toEqual({
      bulkhead: 1,
      circuit_open: 2,
      circuit_half_open: 1,
      rate_limited: 1,
    });
  });

  it('counts timeouts and breaker state changes', () => {
    const { events, policy } = source();
    const stats = observe(policy).collector;
    events.emit({ type: 'timeout', policy: 'timeout', timeoutMs: 50 });
    events.emit({ type: 'state_change', policy: 'payments', from: 'closed', to: 'open' });
    events.emit({ type: 'state_change', policy: 'search', state: 'half-open' });
    const s = stats.snapshot();
    expect(s.timeouts).toBe(1);
    expect(s.lifetime.circuits).toEqual({ payments: 'open', search: 'half-open' });
    expect(s.lifetime.stateChanges).toBe(2);
  });

  it("records every call through an observed pipeline: its outcome and its duration on the collector's clock", async () => {
    const clock = new FakeClock();
    const { policy } = provider(clock);
    const stats = observe(policy, metrics({ clock })).collector;
    await settle(clock, [
      policy.execute(call(clock, 20)),
      policy.execute(call(clock, 40)),
      policy.execute(call(clock, 30, true)).catch(() => {}),
    ]);
    const s = stats.snapshot();
    expect([s.calls, s.ok, s.failed, s.retries, s.attempts]).toEqual([3, 2, 1, 2, 5]);
    // A failed call took three attempts of 30 ms and two waits of 100 ms.
    expect(s.latency.max).toBe(290);
    expect(s.latency.p50).toBeCloseTo(40, 0);
    expect(s.errorsByType).toEqual({ RetryExhaustedError: 1 });
    expect(s.lifetime.latencySumMs).toBe(350);
  });

  it('records calls made through wrap() and through a policy used on its own', async () => {
    const clock = new FakeClock();
    const breaker = circuitBreaker({ strategy: consecutive(5), clock, registry: false });
    const stats = observe(breaker, metrics({ clock })).collector;
    const wrapped = breaker.wrap((ms: number) => call(clock, ms)());
    await settle(clock, [wrapped(10), breaker.execute(call(clock, 5, true)).catch(() => {})]);
    expect(stats.snapshot()).toMatchObject({ calls: 2, ok: 1, failed: 1, latency: { max: 10 } });
  });

  it('counts a call once when a pipeline, a nested pipeline and their layers all feed one collector', async () => {
    const clock = new FakeClock();
    const { policy, inner, retrier, breaker } = provider(clock);
    const stats = metrics({ clock });
    for (const observed of [policy, inner, retrier, breaker, policy]) observe(observed, stats);
    await settle(clock, [policy.execute(call(clock, 10)), policy.execute(call(clock, 10, true)).catch(() => {})]);
    const s = stats.snapshot();
    expect([s.calls, s.ok, s.failed, s.retries, s.attempts]).toEqual([2, 1, 1, 2, 4]);
    // The nested pipeline used on its own is a call of its own.
    await settle(clock, [inner.execute(call(clock, 10))]);
    expect(stats.snapshot().calls).toBe(3);
  });

  it('counts an event once when another copy of core observes the same source for the same collector', async () => {
    const copy = (await import('./observe.js?copy' as string)) as typeof import('./observe.js');
    const clock = new FakeClock();
    const { policy } = provider(clock);
    const stats = metrics({ clock });
    observe(policy, stats);
    const stop = copy.observe(policy, stats); // an adapter bundling the other entry of core
    await settle(clock, [policy.execute(call(clock, 10, true)).catch(() => {})]);
    const s = stats.snapshot();
    expect([s.calls, s.failed, s.retries, s.attempts]).toEqual([1, 1, 2, 3]);
    stop();
    await settle(clock, [policy.execute(call(clock, 10)).catch(() => {})]);
    expect(stats.snapshot().retries).toBe(2); // still observed once
    expect(stats.snapshot().calls).toBe(2);
  });

  it('reads no clock for a policy nobody observes, nor once the observation is disposed', async () => {
    let reads = 0;
    const fake = new FakeClock();
    const counting: Clock = {
      now: () => {
        reads++;
        return fake.now();
      },
      sleep: (ms, signal) => fake.sleep(ms, signal),
      setTimeout: (callback, ms) => fake.setTimeout(callback, ms),
      clearTimeout: (handle) => fake.clearTimeout(handle),
    };
    const breaker = circuitBreaker({ strategy: consecutive(5), clock: fake, registry: false });
    const stats = metrics({ clock: counting });
    await breaker.execute(() => 'unobserved');
    const stop = observe(breaker, stats);
    await breaker.execute(() => 'observed');
    expect(reads).toBeGreaterThan(0);
    stop();
    reads = 0;
    await breaker.execute(() => 'disposed');
    expect(reads).toBe(0);
    expect(stats.snapshot().lifetime.calls).toBe(1);
  });

  it('rejects a source without onEvent and a collector that is not one, naming each', () => {
    expect(() => observe({} as never, {} as never)).toThrow(/source[\s\S]*collector/);
  });

  it('ignores event types it does not know', () => {
    const { events, policy } = source();
    const stats = observe(policy).collector;
    events.emit({ type: 'success', policy: 'breaker', durationMs: 5 });
    events.emit({ type: 'something_new', policy: 'x' });
    const s = stats.snapshot();
    expect([s.attempts, s.retries, s.timeouts, s.rejections, s.lifetime.stateChanges]).toEqual([0, 0, 0, 0, 0]);
  });

  it('stops counting once disposed', () => {
    const { events, policy } = source();
    const stop = observe(policy);
    events.emit({ type: 'retry', policy: 'retry' });
    stop();
    events.emit({ type: 'retry', policy: 'retry' });
    expect(stop.collector.snapshot().lifetime.retries).toBe(1);
    expect(events.hasListeners).toBe(false);
  });
});
