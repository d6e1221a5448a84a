// Values a caller computes can be wrong: a latency of Infinity (a clock read that failed), an
// attempt count read as text. A collector keeps numbers only, so a snapshot never shows
// `null` (JSON's Infinity) or "0032" (a string added as text).
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
import { metrics } from './metrics.js';
import { LatencySketch } from './sketch.js';

describe('non-finite and non-number readings', () => {
  it('recordCall counts a call whose latency is Infinity, keeping it out of the latency figures', () => {
    const stats = metrics({ clock: new FakeClock() });
    stats.recordCall({ latencyMs: 10, ok: true });
    stats.recordCall({ latencyMs: Number.POSITIVE_INFINITY, ok: true });
    const snapshot = stats.snapshot();
    expect(snapshot.calls).toBe(2);
    expect(snapshot.latency.max).toBe(10);
    expect(snapshot.latency.avg).toBe(10);
    expect(stats.snapshot().lifetime.latencySumMs).toBe(10);
  });

  it('recordAttempts ignores what is not a finite number above 0', () => {
    const stats = metrics({ clock: new FakeClock() });
    stats.recordAttempts('3' as never);
    stats.recordAttempts(Number.POSITIVE_INFINITY);
    stats.recordAttempts(2);
    expect(stats.snapshot().attempts).toBe(2);
    expect(stats.snapshot().lifetime.attempts).toBe(2);
  });

  it('LatencySketch.add skips Infinity as it skips NaN', () => {
    const sketch = new LatencySketch();
    sketch.add(Number.POSITIVE_INFINITY);
    sketch.add(5);
    expect([sketch.count, sketch.max]).toEqual([1, 5]);
  });
});

describe('a time limit read at call time that is not a number', () => {
  it('timeout(() => ms): a numeric string or a BigInt runs without a limit, as NaN does, and never throws synchronously', async () => {
    const { timeout } = await import('../timeout/timeout.js');
    for (const ms of ['50', 10n]) {
      const clock = new FakeClock();
      const policy = timeout(() => ms as never, { clock });
      const call = policy.execute(() => new Promise((resolve) => clock.setTimeout(() => resolve('done'), 100)));
      await clock.advance(100);
      await expect(call).resolves.toBe('done');
    }
  });

  it('hedge({ delayMs: () => ms }): a numeric string or a BigInt runs unhedged', async () => {
    const { hedge } = await import('../hedging/hedge.js');
    for (const ms of ['5', 10n]) {
      const clock = new FakeClock();
      let attempts = 0;
      const call = hedge({ delayMs: () => ms as never, clock }).execute(() => {
        attempts++;
        return new Promise((resolve) => clock.setTimeout(() => resolve('done'), 50));
      });
      await clock.advance(50);
      await expect(call).resolves.toBe('done');
      expect(attempts).toBe(1);
    }
  });
});
