import { describe, expect, it } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
import { ConfigurationError } from '../errors/errors.js';
import { metrics } from './metrics.js';
import { SLA_DEFAULTS } from './options.js';
import { LATENCY_QUANTILE_DEFAULTS, latencyQuantile, slaReport } from './sla.js';

const withCalls = (ok: number, failed: number, latencyMs: number) => {
  const stats = metrics({ clock: new FakeClock() });
  for (let i = 0; i < ok; i++) stats.recordCall({ latencyMs, ok: true });
  for (let i = 0; i < failed; i++) stats.recordCall({ latencyMs, ok: false });
  return stats.snapshot();
};

describe('slaReport', () => {
  it('pins the seeds’ targets: 99.9 % availability, p95 500 ms, 1 % errors', () => {
    expect(SLA_DEFAULTS).toEqual({ availability: 0.999, p95Ms: 500, errorRate: 0.01 });
  });

  it('meets every target on a healthy window', () => {
    const report = slaReport(withCalls(1_000, 0, 100));
    expect(report.met).toBe(true);
    expect(report.availability).toEqual({ value: 1, target: 0.999, met: true });
    expect(report.p95Ms.met).toBe(true);
  });

  it('misses availability and error rate with 2 % failures', () => {
    const report = slaReport(withCalls(98, 2, 100));
    expect(report.availability.met).toBe(false);
    expect(report.errorRate).toEqual({ value: 0.02, target: 0.01, met: false });
    expect(report.p95Ms.met).toBe(true);
    expect(report.met).toBe(false);
  });

  it('misses the latency target when p95 is above it, and takes custom targets', () => {
    const snapshot = withCalls(100, 0, 700);
    expect(slaReport(snapshot).p95Ms.met).toBe(false);
    expect(slaReport(snapshot, { p95Ms: 1_000 }).p95Ms).toMatchObject({ target: 1_000, met: true });
  });

  it('rejects targets outside their range', () => {
    expect(() => slaReport(withCalls(1, 0, 1), { availability: 2, errorRate: -1 })).toThrow(ConfigurationError);
  });
});

describe('latencyQuantile', () => {
  it('returns the fallback until the window has latencies, then the window quantile', async () => {
    const clock = new FakeClock();
    const stats = metrics({ clock });
    const p95 = latencyQuantile(stats, 0.95, { clock, fallbackMs: 250, refreshMs: 1_000 });
    expect(p95()).toBe(250);
    for (let ms = 1; ms <= 100; ms++) stats.recordCall({ latencyMs: ms, ok: true });
    expect(p95()).toBe(250); // cached for refreshMs
    await clock.advance(1_000);
    expect(Math.abs(p95() - 95) / 95).toBeLessThanOrEqual(0.01);
  });

  it('defaults to a 1 s fallback and a 1 s refresh', () => {
    expect(LATENCY_QUANTILE_DEFAULTS).toEqual({ fallbackMs: 1_000, refreshMs: 1_000 });
    expect(latencyQuantile(metrics({ clock: new FakeClock() }), 0.5, { clock: new FakeClock() })()).toBe(1_000);
  });

  it('rejects a quantile outside [0, 1]', () => {
    expect(() => latencyQuantile(metrics(), 1.5)).toThrow(/q/);
    expect(() => latencyQuantile({} as never, 0.5, { clock: {} as never })).toThrow(/collector[\s\S]*clock/);
  });
});
