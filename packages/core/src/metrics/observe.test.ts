import { describe, expect, it } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
import { Emitter } from '../events/emitter.js';
import type { PolicyEvent } from '../policy/policy.js';
import { backoff } from '../retry/backoff.js';
import { retry } from '../retry/retry.js';
import { metrics } from './metrics.js';
import { observe } from './observe.js';

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
