import { describe, expect, it } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
import { ConfigurationError, TimeoutError } from '../errors/errors.js';
import { hedge } from '../hedging/hedge.js';
import { metrics } from '../metrics/metrics.js';
import { type TimeoutPolicy, timeout } from './timeout.js';

/** Runs one call whose function takes `ms` (honouring its signal); returns 'ok' or the error. */
async function callTaking(policy: TimeoutPolicy, clock: FakeClock, ms: number): Promise<unknown> {
  const outcome = policy
    .execute(({ signal }) => clock.sleep(ms, signal).then(() => 'ok'))
    .then(
      (v) => v,
      (e: unknown) => e,
    );
  await clock.advance(ms);
  return outcome;
}

const limitOf = (outcome: unknown): number => {
  expect(outcome).toBeInstanceOf(TimeoutError);
  return (outcome as TimeoutError).timeoutMs;
};

describe('timeout({ ms: pNN })', () => {
  it('uses max until minSamples latencies are known', async () => {
    const clock = new FakeClock();
    const policy = timeout({ ms: 'p99', min: 10, max: 1_000, minSamples: 10, clock });
    for (let i = 0; i < 9; i++) expect(await callTaking(policy, clock, 50)).toBe('ok');
    expect(limitOf(await callTaking(policy, clock, 2_000))).toBe(1_000);
  });

  it('learns the p99 of its successful calls after warm-up', async () => {
    const clock = new FakeClock();
    const policy = timeout({ ms: 'p99', min: 10, max: 1_000, minSamples: 10, clock });
    for (let i = 0; i < 10; i++) await callTaking(policy, clock, 50);
    const limit = limitOf(await callTaking(policy, clock, 300));
    expect(limit).toBeGreaterThanOrEqual(49.5);
    expect(limit).toBeLessThanOrEqual(50.5);
  });

  it('grows when the dependency slows down: a timed-out call counts at twice its limit', async () => {
    const clock = new FakeClock();
    const policy = timeout({ ms: 'p99', min: 10, max: 1_000, minSamples: 10, refreshCalls: 1, clock });
    for (let i = 0; i < 10; i++) await callTaking(policy, clock, 50);
    // The dependency now takes 300 ms: calls hit the learned ~50 ms limit, which then doubles.
    const limits: number[] = [];
    let outcome: unknown;
    for (let i = 0; i < 10 && outcome !== 'ok'; i++) {
      outcome = await callTaking(policy, clock, 300);
      if (outcome !== 'ok') limits.push(limitOf(outcome));
    }
    expect(outcome).toBe('ok');
    expect(limits[0]).toBeLessThan(51);
    for (let i = 1; i < limits.length; i++) expect(limits[i]).toBeGreaterThanOrEqual(limits[i - 1]!);
    expect(limits.length).toBeLessThanOrEqual(6); // 50, 50, 100, 100, 200: then ~400 lets 300 ms calls through
    expect(limits.at(-1)).toBeGreaterThan(190);
  });

  it('comes down when the dependency speeds up, once the old latencies leave the window', async () => {
    const clock = new FakeClock();
    const policy = timeout({ ms: 'p99', min: 10, max: 1_000, minSamples: 10, windowMs: 4_000, refreshCalls: 1, clock });
    for (let i = 0; i < 10; i++) await callTaking(policy, clock, 300);
    expect(limitOf(await callTaking(policy, clock, 2_000))).toBeGreaterThanOrEqual(297);
    // 6 s of calls taking 30–48 ms: the 300 ms latencies leave the 4 s window.
    for (let i = 0; i < 150; i++) await callTaking(policy, clock, 30 + (i % 10) * 2);
    const limit = limitOf(await callTaking(policy, clock, 2_000));
    expect(limit).toBeGreaterThanOrEqual(30);
    expect(limit).toBeLessThanOrEqual(100);
  });

  it('aggressive: rejects at the learned limit a call that ignores its signal', async () => {
    const clock = new FakeClock();
    const policy = timeout({ ms: 'p99', min: 10, max: 1_000, minSamples: 10, strategy: 'aggressive', clock });
    for (let i = 0; i < 10; i++) await callTaking(policy, clock, 40);
    const outcome = policy
      .execute(() => clock.sleep(5_000).then(() => 'late'))
      .then(
        (v) => v,
        (e: unknown) => e,
      );
    await clock.advance(41);
    const limit = limitOf(await outcome);
    expect(limit).toBeGreaterThanOrEqual(39.6);
    expect(limit).toBeLessThanOrEqual(40.4);
  });

  it('clamps the learned limit to min', async () => {
    const clock = new FakeClock();
    const policy = timeout({ ms: 'p99', min: 20, max: 1_000, minSamples: 10, clock });
    for (let i = 0; i < 10; i++) await callTaking(policy, clock, 5);
    expect(limitOf(await callTaking(policy, clock, 100))).toBe(20);
  });

  it('reads an external latency source, clamped to max, and uses max while it has no data', async () => {
    const clock = new FakeClock();
    let answer = Number.NaN;
    const asked: number[] = [];
    const latency = {
      quantile: (q: number) => {
        asked.push(q);
        return answer;
      },
    };
    const policy = timeout({ ms: 'p99.9', min: 10, max: 1_000, latency, refreshCalls: 1, clock });
    expect(limitOf(await callTaking(policy, clock, 5_000))).toBe(1_000);
    answer = 99_999;
    expect(limitOf(await callTaking(policy, clock, 5_000))).toBe(1_000);
    answer = 120;
    expect(limitOf(await callTaking(policy, clock, 5_000))).toBe(120);
    expect(asked).toEqual([0.999, 0.999, 0.999]);
  });

  it('reads a latency source that throws as one with no data, and does not fail the call', async () => {
    const clock = new FakeClock();
    const latency = {
      quantile: (): number => {
        throw new Error('metrics backend down');
      },
    };
    const policy = timeout({ ms: 'p99', min: 10, max: 1_000, latency, refreshCalls: 1, clock });
    expect(limitOf(await callTaking(policy, clock, 5_000))).toBe(1_000);
    expect(await policy.execute(() => 'value')).toBe('value');
    expect(await hedge({ delayMs: 'p95', latency, clock }).execute(() => 'value')).toBe('value');
  });

  it('accepts a metrics collector as its latency source', async () => {
    const clock = new FakeClock();
    const stats = metrics({ clock });
    for (let i = 0; i < 100; i++) stats.recordCall({ latencyMs: 80, ok: true });
    const policy = timeout({ ms: 'p95', min: 10, max: 1_000, latency: stats, clock });
    const limit = limitOf(await callTaking(policy, clock, 500));
    expect(limit).toBeGreaterThanOrEqual(79.2);
    expect(limit).toBeLessThanOrEqual(80.8);
  });

  it('recomputes the percentile every refreshCalls calls or refreshMs ms, not on every call', async () => {
    const clock = new FakeClock();
    let reads = 0;
    const latency = {
      quantile: () => {
        reads++;
        return 100;
      },
    };
    const policy = timeout({ ms: 'p99', min: 10, max: 1_000, latency, refreshCalls: 3, refreshMs: 100, clock });
    for (let i = 0; i < 7; i++) await policy.execute(() => 1);
    expect(reads).toBe(3); // calls 1, 4 and 7
    await clock.advance(100);
    await policy.execute(() => 1);
    expect(reads).toBe(4); // refreshMs passed
  });

  it('rejects a bad percentile or missing clamps, naming each option', () => {
    for (const ms of ['p100', 'p0', 'fast', 'p99.999', '95']) {
      expect(() => timeout({ ms: ms as 'p99', min: 1, max: 10 })).toThrow(/\bms\b/);
      expect(() => timeout({ ms: ms as 'p99', min: 1, max: 10 })).toThrow(ConfigurationError);
    }
    const error = (() => {
      try {
        timeout({ ms: 'p99' } as never);
      } catch (e) {
        return e as ConfigurationError;
      }
    })();
    expect(error?.message).toMatch(/min/);
    expect(error?.message).toMatch(/max/);
    expect(() => timeout({ ms: 'p99', min: 100, max: 10 })).toThrow(/max/);
    expect(() => timeout({ ms: 'p99', min: 1, max: 10, refreshCalls: 0 })).toThrow(/refreshCalls/);
    expect(() => timeout({ ms: 'p99', min: 1, max: 10, latency: {} as never })).toThrow(/latency/);
    expect(() => timeout('p99' as never)).toThrow(/\bms\b/);
  });
});
