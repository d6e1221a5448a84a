import { type CallRecord, isConfigurationError, type MetricsSnapshot, metrics } from '@resilience/core';
import { FakeClock } from '@resilience/core/testing';
import { Counter, Registry } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { registerResilienceMetrics, type SnapshotSource } from './index.js';
import { find, scrape } from './scrape.test-helper.js';

/** A registry that also serves a metric of the application's own, which a failing source must not take down. */
function shared() {
  const registry = new Registry();
  new Counter({ name: 'app_orders_total', help: 'Orders placed.', registers: [registry] }).inc(3);
  return registry;
}

/** A collector whose snapshot has `retries` (and the latency sum) replaced by `value`. */
function tampered(value: unknown): SnapshotSource {
  const stats = metrics({ clock: new FakeClock() });
  stats.recordCall({ latencyMs: 20, ok: true });
  return {
    snapshot: (): MetricsSnapshot => {
      const s = stats.snapshot();
      return { ...s, lifetime: { ...s.lifetime, retries: value as number, latencySumMs: value as number } };
    },
  };
}

describe('registerResilienceMetrics: a failing source fails no scrape', () => {
  it('leaves out a collector whose snapshot() throws; the other collectors and the registry’s own metrics are served', async () => {
    const registry = shared();
    const ok = metrics({ clock: new FakeClock() });
    ok.recordCall({ latencyMs: 20, ok: true });
    const broken = {
      snapshot: (): MetricsSnapshot => {
        throw new Error('closed');
      },
    };
    registerResilienceMetrics(registry, { collectors: { ok, broken }, summary: true });
    const { samples } = await scrape(registry);
    expect(find(samples, 'app_orders_total')[0]?.value).toBe(3);
    expect(find(samples, 'resilience_calls_total', { outcome: 'ok' })).toEqual([
      { name: 'resilience_calls_total', labels: { name: 'ok', outcome: 'ok' }, value: 1 },
    ]);
    expect(
      samples.filter((s) => s.labels.name === 'broken' && !s.name.startsWith('resilience_call_duration_seconds')),
    ).toEqual([]);
  });

  it('shows no counter of a lone collector whose snapshot() throws, rather than a 0 that rate() reads as a reset', async () => {
    const registry = shared();
    const stats = metrics({ clock: new FakeClock() });
    stats.recordRetry();
    let broken = false;
    registerResilienceMetrics(registry, {
      collectors: {
        snapshot: () => {
          if (broken) throw new Error('closed');
          return stats.snapshot();
        },
      },
    });
    expect(find((await scrape(registry)).samples, 'resilience_retries_total')[0]?.value).toBe(1);
    broken = true;
    const { samples } = await scrape(registry);
    expect(find(samples, 'app_orders_total')[0]?.value).toBe(3);
    expect(samples.filter((s) => s.name.startsWith('resilience_') && s.name.endsWith('_total'))).toEqual([]);
  });

  it.each([
    ['NaN', Number.NaN],
    ['negative', -1],
    ['infinite', Number.POSITIVE_INFINITY],
    ['missing', undefined],
  ])('leaves out a %s count instead of failing the scrape, printing NaN or counting 1', async (_, value) => {
    const registry = shared();
    registerResilienceMetrics(registry, { collectors: tampered(value), summary: true });
    const { samples } = await scrape(registry);
    expect(find(samples, 'app_orders_total')[0]?.value).toBe(3);
    expect(find(samples, 'resilience_calls_total', { outcome: 'ok' })[0]?.value).toBe(1);
    expect(find(samples, 'resilience_retries_total')).toEqual([]);
    expect(find(samples, 'resilience_call_duration_summary_seconds_sum')).toEqual([]);
    expect(find(samples, 'resilience_call_duration_summary_seconds_count')[0]?.value).toBe(1);
  });

  it('leaves out the breakers when their list throws, and a breaker whose state cannot be read', async () => {
    const registry = shared();
    const closedHandle = {
      name: 'ledger',
      get state(): string {
        throw new Error('handle closed');
      },
    };
    registerResilienceMetrics(registry, { breakers: [{ name: 'payments', state: 'open' }, closedHandle] });
    const other = new Registry();
    registerResilienceMetrics(other, {
      breakers: {
        breakers: () => {
          throw new Error('registry gone');
        },
      },
    });
    const { samples } = await scrape(registry);
    expect(find(samples, 'app_orders_total')[0]?.value).toBe(3);
    expect(find(samples, 'resilience_circuit_state', { state: 'open' })).toEqual([
      { name: 'resilience_circuit_state', labels: { name: 'payments', state: 'open' }, value: 1 },
    ]);
    expect(find(samples, 'resilience_circuit_state', { name: 'ledger' })).toEqual([]);
    expect((await scrape(other)).samples).toEqual([]);
  });

  it('leaves out a usage() that answers no { used, limit } at all', async () => {
    const registry = shared();
    registerResilienceMetrics(registry, {
      rateLimits: [
        { name: 'nothing', usage: () => undefined as never },
        { name: 'openai', usage: () => ({ used: 1, limit: 4 }) },
      ],
    });
    const { samples } = await scrape(registry);
    expect(find(samples, 'resilience_rate_limit_usage_ratio')).toEqual([
      { name: 'resilience_rate_limit_usage_ratio', labels: { name: 'openai' }, value: 0.25 },
    ]);
  });
});

describe('registerResilienceMetrics: a usage() that never settles', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('leaves it out after usageTimeoutMs, and calls it again only once its reading has settled', async () => {
    vi.useFakeTimers();
    const registry = shared();
    let calls = 0;
    let settle: (usage: { used: number; limit: number }) => void = () => {};
    const hung = () => {
      calls++;
      return new Promise<{ used: number; limit: number }>((resolve) => {
        settle = resolve;
      });
    };
    registerResilienceMetrics(registry, {
      rateLimits: [
        { name: 'redis', usage: hung },
        { name: 'openai', usage: () => ({ used: 1, limit: 4 }) },
      ],
      usageTimeoutMs: 250,
    });
    const ratios = async () => {
      const scraped = scrape(registry);
      await vi.advanceTimersByTimeAsync(250);
      const { samples } = await scraped;
      expect(find(samples, 'app_orders_total')[0]?.value).toBe(3);
      return Object.fromEntries(
        find(samples, 'resilience_rate_limit_usage_ratio').map((s) => [s.labels.name, s.value]),
      );
    };
    expect(await ratios()).toEqual({ openai: 0.25 });
    // Scrapes while the first call hangs wait on that call: a hung store costs one call, not one per scrape.
    expect(await ratios()).toEqual({ openai: 0.25 });
    expect(calls).toBe(1);
    settle({ used: 3, limit: 4 });
    expect(await ratios()).toEqual({ openai: 0.25, redis: 0.75 });
    expect(await ratios()).toEqual({ openai: 0.25 });
    expect(calls).toBe(2);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('keeps no process alive while it waits on a hung usage(): its usageTimeoutMs timer is unref’d', async () => {
    const registry = new Registry();
    let settle: (usage: { used: number; limit: number }) => void = () => {};
    const hung = () => new Promise<{ used: number; limit: number }>((resolve) => (settle = resolve));
    registerResilienceMetrics(registry, { rateLimits: [{ name: 'redis', usage: hung }], usageTimeoutMs: 600_000 });
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    const scraped = registry.metrics();
    await new Promise((resolve) => setImmediate(resolve));
    // A process whose work is done exits now, not ten minutes later when the scrape gives up.
    expect(timers()).toBe(before);
    settle({ used: 1, limit: 2 });
    expect(await scraped).toContain('resilience_rate_limit_usage_ratio{name="redis"} 0.5');
  });

  it('refuses a usageTimeoutMs that is no positive number of milliseconds, naming it', () => {
    for (const usageTimeoutMs of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, '100']) {
      expect(() => registerResilienceMetrics(new Registry(), { usageTimeoutMs } as never)).toThrow(/usageTimeoutMs/);
    }
    expect(() => registerResilienceMetrics(new Registry(), { usageTimeoutMs: 0.5 })).not.toThrow();
  });
});

describe('registerResilienceMetrics: hostile durations', () => {
  it('counts a negative duration (a clock stepped back) as 0 s and leaves out NaN and infinite ones', async () => {
    const registry = new Registry();
    const stats = metrics();
    const listeners: Array<(call: CallRecord) => void> = [];
    const source = {
      snapshot: () => stats.snapshot(),
      onCall: (listener: (call: CallRecord) => void) => {
        listeners.push(listener);
        return () => {};
      },
    };
    registerResilienceMetrics(registry, { collectors: source });
    for (const latencyMs of [-5_000, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 20]) {
      for (const listener of listeners) listener({ latencyMs, ok: true });
    }
    const { samples } = await scrape(registry);
    expect(find(samples, 'resilience_call_duration_seconds_count')[0]?.value).toBe(2);
    expect(find(samples, 'resilience_call_duration_seconds_sum')[0]?.value).toBeCloseTo(0.02);
    expect(find(samples, 'resilience_call_duration_seconds_bucket', { le: '0.005' })[0]?.value).toBe(1);
  });
});

describe('registerResilienceMetrics: a refused registration leaves the registry as it was', () => {
  it('refuses a collector whose onCall is no function, naming collectors, registering nothing', () => {
    const registry = new Registry();
    const stats = metrics();
    const odd = { snapshot: () => stats.snapshot(), onCall: true as never };
    let error: unknown;
    try {
      registerResilienceMetrics(registry, { collectors: odd });
    } catch (e) {
      error = e;
    }
    expect(isConfigurationError(error) && error.issues.map((i) => i.option)).toEqual(['collectors']);
    expect(registry.getMetricsAsArray()).toEqual([]);
  });

  it('removes what it registered when subscribing to a collector throws, so a retry can register', () => {
    const registry = new Registry();
    const stats = metrics();
    let fail = true;
    const flaky = {
      snapshot: () => stats.snapshot(),
      onCall: (listener: (call: CallRecord) => void) => {
        if (fail) throw new Error('not ready');
        return stats.onCall(listener);
      },
    };
    expect(() => registerResilienceMetrics(registry, { collectors: flaky })).toThrow('not ready');
    expect(registry.getMetricsAsArray()).toEqual([]);
    fail = false;
    expect(registerResilienceMetrics(registry, { collectors: flaky }).names).toContain('resilience_calls_total');
  });
});
