import { describe, expect, it } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
import { ConfigurationError, TimeoutError } from '../errors/errors.js';
import { METRICS_DEFAULTS, metrics } from './index.js';

class DatabaseError extends Error {
  override name = 'DatabaseError';
}

describe('metrics', () => {
  it('pins its defaults', () => {
    expect(METRICS_DEFAULTS).toEqual({ windowMs: 60_000, subWindows: 6, maxErrorTypes: 20, maxLabels: 32 });
    expect(metrics().windowMs).toBe(60_000);
  });

  it('rejects bad options naming each one', () => {
    const attempt = () => metrics({ windowMs: 0, subWindows: 7, maxErrorTypes: 1.5 });
    expect(attempt).toThrow(ConfigurationError);
    expect(attempt).toThrow(/windowMs[\s\S]*subWindows[\s\S]*maxErrorTypes/);
  });

  it('refuses a window under 1 ms, whose sub-windows the clock cannot tell apart', () => {
    expect(() => metrics({ windowMs: 1e-9 })).toThrow(/windowMs: received 1e-9, expected a finite number >= 1/);
    expect(metrics({ windowMs: 1 }).windowMs).toBe(1);
  });

  it('counts calls, outcomes and the error rate', () => {
    const stats = metrics({ clock: new FakeClock() });
    for (let i = 0; i < 8; i++) stats.recordCall({ latencyMs: 10, ok: true });
    stats.recordCall({ latencyMs: 10, ok: false, error: new TimeoutError(10) });
    stats.recordCall({ latencyMs: 10, ok: false });
    const s = stats.snapshot();
    expect([s.calls, s.ok, s.failed, s.errorRate]).toEqual([10, 8, 2, 0.2]);
    expect(s.errors).toBe(1);
  });

  it('reports avg, p50, p95, p99 and max latency within 1 %', () => {
    const stats = metrics({ clock: new FakeClock() });
    for (let ms = 1; ms <= 1_000; ms++) stats.recordCall({ latencyMs: ms, ok: true });
    const { latency } = stats.snapshot();
    expect(latency.avg).toBeCloseTo(500.5);
    expect(latency.max).toBe(1_000);
    expect(Math.abs(latency.p50 - 500) / 500).toBeLessThanOrEqual(0.01);
    expect(Math.abs(latency.p95 - 950) / 950).toBeLessThanOrEqual(0.01);
    expect(Math.abs(latency.p99 - 990) / 990).toBeLessThanOrEqual(0.01);
    expect(stats.quantile(0.99)).toBe(latency.p99);
  });

  it('reports zeros, not NaN, with no traffic', () => {
    const s = metrics({ clock: new FakeClock() }).snapshot();
    expect(s.latency).toEqual({ avg: 0, p50: 0, p95: 0, p99: 0, max: 0 });
    expect(s.errorRate).toBe(0);
    expect(s.cache.hitRate).toBe(0);
  });

  it('tells onCall listeners of every recorded call until they are disposed', () => {
    const stats = metrics({ clock: new FakeClock() });
    const seen: number[] = [];
    const dispose = stats.onCall((call) => seen.push(call.latencyMs));
    stats.recordCall({ latencyMs: 12, ok: true });
    stats.callSettled(stats.callStarted(), false, new Error('down'));
    dispose();
    stats.recordCall({ latencyMs: 7, ok: true });
    expect(seen).toEqual([12, 0]);
  });

  it('counts cache hits and misses', () => {
    const stats = metrics({ clock: new FakeClock() });
    stats.recordCache(true);
    stats.recordCache(true);
    stats.recordCache(true);
    stats.recordCache(false);
    expect(stats.snapshot().cache).toEqual({ hits: 3, misses: 1, hitRate: 0.75 });
  });

  it('sorts errors by category and by name', () => {
    const stats = metrics({ clock: new FakeClock() });
    stats.recordError(new TimeoutError(5));
    stats.recordError(Object.assign(new Error('reset'), { code: 'ECONNRESET' }));
    stats.recordCall({ latencyMs: 1, ok: false, error: new DatabaseError('down') });
    stats.recordError('a string');
    const s = stats.snapshot();
    expect(s.errorsByCategory.timeout).toBe(1);
    expect(s.errorsByCategory.network).toBe(1);
    expect(s.errorsByCategory.unknown).toBe(2);
    expect(s.errorsByType).toEqual({ TimeoutError: 1, Error: 1, DatabaseError: 1, string: 1 });
    expect(s.calls).toBe(1);
  });

  it('keeps at most maxErrorTypes error names and counts the rest as other', () => {
    const stats = metrics({ clock: new FakeClock(), maxErrorTypes: 3 });
    for (let i = 0; i < 1_000; i++) stats.recordError({ name: `E${i}` });
    stats.recordError({ name: 'E0' });
    const byType = stats.snapshot().errorsByType;
    expect(Object.keys(byType)).toHaveLength(4);
    expect(byType).toEqual({ E0: 2, E1: 1, E2: 1, other: 997 });
  });

  it('cuts error names and breaker names to 48 characters', () => {
    const stats = metrics({ clock: new FakeClock() });
    stats.recordError({ name: 'N'.repeat(200) });
    stats.recordError({ name: `${'N'.repeat(48)}-different-tail` });
    stats.recordStateChange('B'.repeat(100), 'open');
    const s = stats.snapshot();
    expect(s.errorsByType).toEqual({ ['N'.repeat(48)]: 2 });
    expect(Object.keys(s.lifetime.circuits)).toEqual(['B'.repeat(48)]);
  });

  it('never cuts a name inside a surrogate pair (half an emoji is U+FFFD on the wire)', () => {
    const stats = metrics({ clock: new FakeClock() });
    stats.recordStateChange(`${'a'.repeat(47)}😀-host`, 'open');
    stats.recordError({ name: `${'e'.repeat(46)}😀-tail` });
    const s = stats.snapshot();
    expect(Object.keys(s.lifetime.circuits)).toEqual(['a'.repeat(47)]);
    expect(s.errorsByType).toEqual({ [`${'e'.repeat(46)}😀`]: 1 });
  });

  it('bounds error names across sub-windows too', async () => {
    const clock = new FakeClock();
    const stats = metrics({ clock, maxErrorTypes: 2, windowMs: 60_000 });
    for (let w = 0; w < 3; w++) {
      stats.recordError({ name: `A${w}` });
      stats.recordError({ name: `A${w}` });
      stats.recordError({ name: `B${w}` });
      await clock.advance(10_000);
    }
    const byType = stats.snapshot().errorsByType;
    expect(Object.keys(byType).length).toBeLessThanOrEqual(3);
    expect(Object.values(byType).reduce((a, b) => a + b, 0)).toBe(9);
    expect(byType.other).toBe(5);
  });

  it('slides the window: calls older than windowMs drop out, lifetime totals stay', async () => {
    const clock = new FakeClock();
    const stats = metrics({ clock, windowMs: 60_000 });
    stats.recordCall({ latencyMs: 900, ok: false, error: new TimeoutError(900) });
    await clock.advance(30_000);
    stats.recordCall({ latencyMs: 10, ok: true });
    expect(stats.snapshot().calls).toBe(2);
    await clock.advance(30_000);
    const s = stats.snapshot();
    expect([s.calls, s.failed, s.latency.max, s.errorsByCategory.timeout]).toEqual([1, 0, 10, 0]);
    expect(s.lifetime).toMatchObject({ calls: 2, ok: 1, failed: 1, errors: 1, latencySumMs: 910 });
    await clock.advance(60_000);
    expect(stats.snapshot().calls).toBe(0);
    expect(stats.quantile(0.5)).toBeNaN();
  });

  it('reuses a sub-window slot after a long idle gap without leaking old counts', async () => {
    const clock = new FakeClock();
    const stats = metrics({ clock, windowMs: 60_000 });
    stats.recordCall({ latencyMs: 5, ok: true });
    await clock.advance(360_000); // same ring slot, six windows later
    stats.recordCall({ latencyMs: 7, ok: true });
    const s = stats.snapshot();
    expect(s.calls).toBe(1);
    expect(s.latency.max).toBe(7);
  });

  it('slides on after the clock steps back by more than a window, rather than keeping the old window for the length of the step', () => {
    let now = 10_000_000;
    const clock = new FakeClock();
    const stats = metrics({ clock: Object.assign(clock, { now: () => now }) });
    stats.recordCall({ latencyMs: 1, ok: false, error: new Error('old') });
    now -= 3_600_000; // an NTP correction of an hour
    expect(stats.snapshot().calls).toBe(0);
    stats.recordCall({ latencyMs: 1, ok: true });
    expect(stats.snapshot()).toMatchObject({ calls: 1, errorRate: 0 });
  });

  it('keeps counting the calls of a step back within the window', () => {
    let now = 100_000;
    const clock = new FakeClock();
    const stats = metrics({ clock: Object.assign(clock, { now: () => now }) });
    stats.recordCall({ latencyMs: 1, ok: true });
    now = 50_000;
    stats.recordCall({ latencyMs: 1, ok: true });
    now = 100_000;
    expect(stats.snapshot().calls).toBe(2);
  });

  it('counts retries, give-ups, timeouts, rejections and state changes', () => {
    const stats = metrics({ clock: new FakeClock() });
    stats.recordRetry();
    stats.recordRetry();
    stats.recordGiveUp();
    stats.recordTimeout();
    stats.recordRejection('circuit_open');
    stats.recordRejection('circuit_open');
    stats.recordRejection('bulkhead_full');
    stats.recordStateChange('payments', 'open');
    stats.recordStateChange('payments', 'half_open');
    const s = stats.snapshot();
    expect([s.retries, s.timeouts, s.rejections]).toEqual([2, 1, 3]);
    expect(s.lifetime).toMatchObject({
      retries: 2,
      giveUps: 1,
      timeouts: 1,
      stateChanges: 2,
      rejections: { circuit_open: 2, bulkhead_full: 1 },
      circuits: { payments: 'half_open' },
    });
  });

  it('bounds rejection reasons and breaker names', () => {
    const stats = metrics({ clock: new FakeClock() });
    for (let i = 0; i < 100; i++) {
      stats.recordRejection(`r${i}`);
      stats.recordStateChange(`b${i}`, 'open');
    }
    const { lifetime } = stats.snapshot();
    expect(Object.keys(lifetime.rejections)).toHaveLength(METRICS_DEFAULTS.maxLabels + 1);
    expect(lifetime.rejections.other).toBe(100 - METRICS_DEFAULTS.maxLabels);
    expect(Object.keys(lifetime.circuits)).toHaveLength(METRICS_DEFAULTS.maxLabels);
  });

  it('merges the window into one sketch for other processes', async () => {
    const clock = new FakeClock();
    const stats = metrics({ clock });
    stats.recordCall({ latencyMs: 10, ok: true });
    await clock.advance(20_000);
    stats.recordCall({ latencyMs: 20, ok: true });
    const sketch = stats.latencySketch();
    expect(sketch.count).toBe(2);
    expect(sketch.max).toBe(20);
  });

  it('forgets everything on reset', () => {
    const stats = metrics({ clock: new FakeClock() });
    stats.recordCall({ latencyMs: 3, ok: true });
    stats.recordRejection('x');
    stats.reset();
    const s = stats.snapshot();
    expect(s.calls).toBe(0);
    expect(s.lifetime.calls).toBe(0);
    expect(s.lifetime.rejections).toEqual({});
    stats.recordCall({ latencyMs: 3, ok: true });
    expect(stats.snapshot().calls).toBe(1);
  });
});
