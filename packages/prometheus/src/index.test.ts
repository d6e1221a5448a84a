import {
  alerting,
  BreakerRegistry,
  type CallRecord,
  type ConfigurationError,
  circuitBreaker,
  consecutive,
  isConfigurationError,
  metrics,
  rateLimiter,
  tokenBucket,
} from '@resilience/core';
import { FakeClock } from '@resilience/core/testing';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { PROMETHEUS_DEFAULTS, registerResilienceMetrics } from './index.js';
import { find, scrape } from './scrape.test-helper.js';

/** A collector source that counts the call listeners subscribed to it. */
function counted(stats: ReturnType<typeof metrics>) {
  let subscribed = 0;
  const source = {
    snapshot: () => stats.snapshot(),
    onCall: (listener: (call: CallRecord) => void) => {
      subscribed++;
      const dispose = stats.onCall(listener);
      return () => {
        subscribed--;
        dispose();
      };
    },
  };
  return { source, listeners: () => subscribed };
}

describe('registerResilienceMetrics', () => {
  it('exports call counts by outcome, attempts, retries, timeouts and rejections by reason as counters', async () => {
    const stats = metrics({ clock: new FakeClock() });
    for (let i = 0; i < 5; i++) stats.recordCall({ latencyMs: 20, ok: true });
    stats.recordCall({ latencyMs: 20, ok: false });
    stats.recordAttempts(3);
    stats.recordRetry();
    stats.recordRetry();
    stats.recordTimeout();
    stats.recordRejection('circuit_open');
    stats.recordRejection('bulkhead_full');
    stats.recordRejection('bulkhead_full');
    const registry = new Registry();
    registerResilienceMetrics(registry, { collectors: stats });
    const { samples, types } = await scrape(registry);
    expect(find(samples, 'resilience_calls_total', { outcome: 'ok' })).toEqual([
      { name: 'resilience_calls_total', labels: { outcome: 'ok' }, value: 5 },
    ]);
    expect(find(samples, 'resilience_calls_total', { outcome: 'failed' })[0]!.value).toBe(1);
    expect(find(samples, 'resilience_attempts_total')[0]!.value).toBe(3);
    expect(find(samples, 'resilience_retries_total')[0]!.value).toBe(2);
    expect(find(samples, 'resilience_timeouts_total')[0]!.value).toBe(1);
    expect(find(samples, 'resilience_rejections_total', { reason: 'bulkhead_full' })[0]!.value).toBe(2);
    expect(find(samples, 'resilience_rejections_total', { reason: 'circuit_open' })[0]!.value).toBe(1);
    expect(types).toMatchObject({
      resilience_calls_total: 'counter',
      resilience_attempts_total: 'counter',
      resilience_retries_total: 'counter',
      resilience_rejections_total: 'counter',
      resilience_call_duration_seconds: 'histogram',
    });
  });

  it('reads values at scrape time, not at registration', async () => {
    const stats = metrics({ clock: new FakeClock() });
    const registry = new Registry();
    registerResilienceMetrics(registry, { collectors: stats });
    expect(find((await scrape(registry)).samples, 'resilience_calls_total', { outcome: 'ok' })[0]!.value).toBe(0);
    stats.recordCall({ latencyMs: 1, ok: true });
    expect(find((await scrape(registry)).samples, 'resilience_calls_total', { outcome: 'ok' })[0]!.value).toBe(1);
  });

  it('exports call durations as a histogram: cumulative, exact bucket counts in seconds with _sum and _count', async () => {
    const stats = metrics({ clock: new FakeClock() });
    const registry = new Registry();
    registerResilienceMetrics(registry, { collectors: stats, buckets: [0.01, 0.1, 1] });
    // 10 ms lies exactly on a bound: `le` means "less than or equal".
    for (const latencyMs of [5, 10, 10.5, 50, 2_000]) stats.recordCall({ latencyMs, ok: latencyMs < 1_000 });
    const { samples, types } = await scrape(registry);
    expect(types.resilience_call_duration_seconds).toBe('histogram');
    const buckets = Object.fromEntries(
      find(samples, 'resilience_call_duration_seconds_bucket').map((s) => [s.labels.le, s.value]),
    );
    expect(buckets).toEqual({ '0.01': 2, '0.1': 4, '1': 4, '+Inf': 5 });
    expect(find(samples, 'resilience_call_duration_seconds_count')[0]!.value).toBe(5);
    expect(find(samples, 'resilience_call_duration_seconds_sum')[0]!.value).toBeCloseTo(2.0755, 10);
  });

  it('buckets by default from 5 ms to 2 minutes, for HTTP and LLM calls alike', async () => {
    expect(PROMETHEUS_DEFAULTS.buckets).toEqual([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120]);
    const stats = metrics({ clock: new FakeClock() });
    const registry = new Registry();
    registerResilienceMetrics(registry, { collectors: stats });
    stats.recordCall({ latencyMs: 45_000, ok: true }); // a long completion
    const bounds = find((await scrape(registry)).samples, 'resilience_call_duration_seconds_bucket');
    expect(bounds.map((s) => s.labels.le)).toEqual([...PROMETHEUS_DEFAULTS.buckets.map(String), '+Inf']);
    expect(bounds.filter((s) => s.value === 1).map((s) => s.labels.le)).toEqual(['60', '120', '+Inf']);
  });

  it('counts the calls recorded after registration, and unsubscribes once unregistered', async () => {
    const stats = metrics({ clock: new FakeClock() });
    stats.recordCall({ latencyMs: 1, ok: true });
    const { source, listeners } = counted(stats);
    const registry = new Registry();
    const registered = registerResilienceMetrics(registry, { collectors: source });
    stats.recordCall({ latencyMs: 1, ok: true });
    const { samples } = await scrape(registry);
    expect(find(samples, 'resilience_call_duration_seconds_count')[0]!.value).toBe(1);
    expect(find(samples, 'resilience_calls_total', { outcome: 'ok' })[0]!.value).toBe(2);
    expect(listeners()).toBe(1);
    registered.unregister();
    expect(listeners()).toBe(0);
  });

  it('keeps every series in the scrape right after registry.resetMetrics(): the histogram at 0, the counters read from the collectors', async () => {
    const [api, db] = [metrics({ clock: new FakeClock() }), metrics({ clock: new FakeClock() })];
    for (const collectors of [api, { api, db }]) {
      const registry = new Registry();
      registerResilienceMetrics(registry, { collectors, buckets: [0.1], summary: true });
      api.recordCall({ latencyMs: 50, ok: true });
      const before = (await scrape(registry)).samples;
      registry.resetMetrics();
      const after = (await scrape(registry)).samples;
      // Every series is still there: a histogram series gone would read as lost until the next call
      // (and come back from 1, a reset rate() misses), the others as absent.
      expect(after.map((s) => [s.name, s.labels])).toEqual(before.map((s) => [s.name, s.labels]));
      // The histogram was zeroed (prom-client's reset is the exporter's own counts'); what is read from
      // a collector is its lifetime count, which only the collector's reset() zeroes.
      const histogram = after.filter((s) => s.name.startsWith('resilience_call_duration_seconds_'));
      expect(histogram.map((s) => s.value)).toEqual(histogram.map(() => 0));
      expect(find(after, 'resilience_calls_total', { outcome: 'ok' }).map((s) => s.value)).toEqual(
        find(before, 'resilience_calls_total', { outcome: 'ok' }).map((s) => s.value),
      );
      api.recordCall({ latencyMs: 50, ok: true });
      const next = (await scrape(registry)).samples;
      expect(
        find(next, 'resilience_call_duration_seconds_count', collectors === api ? {} : { name: 'api' })[0]!.value,
      ).toBe(1);
      api.reset();
    }
  });

  it('never lowers a counter of a source without onCall whose reset it cannot tell: it reads low instead', async () => {
    const stats = metrics({ clock: new FakeClock() });
    const registry = new Registry();
    registerResilienceMetrics(registry, { collectors: { api: { snapshot: () => stats.snapshot() } } });
    const ok = async () =>
      find((await scrape(registry)).samples, 'resilience_calls_total', { outcome: 'ok' })[0]!.value;
    for (let i = 0; i < 10; i++) stats.recordCall({ latencyMs: 20, ok: true });
    expect(await ok()).toBe(10);
    stats.reset();
    for (let i = 0; i < 12; i++) stats.recordCall({ latencyMs: 20, ok: true });
    expect(await ok()).toBe(12); // caught up: not told, 12 calls read as 2 more (docs/prometheus.md)
    stats.reset();
    for (let i = 0; i < 5; i++) stats.recordCall({ latencyMs: 20, ok: true });
    expect(await ok()).toBe(17); // lower than before: told, the 12 carried
  });

  it("exports the window's sketch quantiles as a summary with lifetime _sum and _count when asked", async () => {
    const stats = metrics({ clock: new FakeClock() });
    const registry = new Registry();
    registerResilienceMetrics(registry, { collectors: stats, summary: true });
    const name = 'resilience_call_duration_summary_seconds';
    const empty = await scrape(registry);
    expect(empty.types[name]).toBe('summary');
    expect(find(empty.samples, name)).toEqual([]); // no quantile without calls
    expect(find(empty.samples, `${name}_count`)[0]!.value).toBe(0);
    for (let ms = 1; ms <= 1_000; ms++) stats.recordCall({ latencyMs: ms, ok: true });
    const { samples } = await scrape(registry);
    const quantile = (q: string) => find(samples, name, { quantile: q })[0]!.value;
    expect(Math.abs(quantile('0.5') - 0.5) / 0.5).toBeLessThanOrEqual(0.01);
    expect(Math.abs(quantile('0.95') - 0.95) / 0.95).toBeLessThanOrEqual(0.01);
    expect(Math.abs(quantile('0.99') - 0.99) / 0.99).toBeLessThanOrEqual(0.01);
    expect(find(samples, `${name}_count`)[0]!.value).toBe(1_000);
    expect(find(samples, `${name}_sum`)[0]!.value).toBeCloseTo(500.5, 6);
    const without = new Registry();
    registerResilienceMetrics(without, { collectors: stats });
    expect(find((await scrape(without)).samples, name)).toEqual([]);
  });

  it('labels each collector by name when given several', async () => {
    const a = metrics({ clock: new FakeClock() });
    const b = metrics({ clock: new FakeClock() });
    a.recordCall({ latencyMs: 1, ok: true });
    b.recordCall({ latencyMs: 1, ok: false });
    b.recordCall({ latencyMs: 1, ok: false });
    const registry = new Registry();
    registerResilienceMetrics(registry, { collectors: { payments: a, search: b } });
    b.recordCall({ latencyMs: 1, ok: true });
    const { samples } = await scrape(registry);
    expect(find(samples, 'resilience_calls_total', { name: 'payments', outcome: 'ok' })[0]!.value).toBe(1);
    expect(find(samples, 'resilience_calls_total', { name: 'search', outcome: 'failed' })[0]!.value).toBe(2);
    // Each histogram series exists from registration, counting only its own collector's calls.
    const counts = find(samples, 'resilience_call_duration_seconds_count').map((s) => [s.labels.name, s.value]);
    expect(Object.fromEntries(counts)).toEqual({ payments: 0, search: 1 });
  });

  it('exports 1 for each breaker’s current state and 0 for the others, following changes', async () => {
    const breaker = { name: 'payments', state: 'closed' };
    const registry = new Registry();
    registerResilienceMetrics(registry, { breakers: [breaker, { name: 'odd', state: 'forced_open' }] });
    const states = async (name: string) =>
      Object.fromEntries(
        find((await scrape(registry)).samples, 'resilience_circuit_state', { name }).map((s) => [
          s.labels.state,
          s.value,
        ]),
      );
    expect(await states('payments')).toEqual({ closed: 1, open: 0, 'half-open': 0, isolated: 0 });
    breaker.state = 'open';
    expect(await states('payments')).toEqual({ closed: 0, open: 1, 'half-open': 0, isolated: 0 });
    expect((await states('odd')).forced_open).toBe(1);
  });

  it('exports breakers sharing a name as one series with the worst state: an open one never shows as closed', async () => {
    const registry = new Registry();
    const breakers = new BreakerRegistry();
    registerResilienceMetrics(registry, { breakers });
    // Two unnamed breakers share the default name; the first one opens.
    const first = circuitBreaker({ registry: breakers, strategy: consecutive(1) });
    circuitBreaker({ registry: breakers });
    await first.execute(() => Promise.reject(new Error('down'))).catch(() => undefined);
    const samples = find((await scrape(registry)).samples, 'resilience_circuit_state', { name: 'circuit-breaker' });
    expect(Object.fromEntries(samples.map((s) => [s.labels.state, s.value]))).toEqual({
      closed: 0,
      open: 1,
      'half-open': 0,
      isolated: 0,
    });
  });

  it('reads the breakers of a registry at every scrape', async () => {
    const registry = new Registry();
    const breakers = new BreakerRegistry();
    registerResilienceMetrics(registry, { breakers });
    const names = async () =>
      new Set(find((await scrape(registry)).samples, 'resilience_circuit_state').map((s) => s.labels.name));
    expect(await names()).toEqual(new Set());
    const payments = circuitBreaker({ name: 'payments', registry: breakers });
    expect(await names()).toEqual(new Set(['payments']));
    payments.dispose();
    expect(await names()).toEqual(new Set());
  });

  it('exports rate-limit usage when a limiter source is given', async () => {
    let used = 30;
    const registry = new Registry();
    registerResilienceMetrics(registry, { rateLimits: [{ name: 'openai', usage: () => ({ used, limit: 60 }) }] });
    expect(
      find((await scrape(registry)).samples, 'resilience_rate_limit_usage_ratio', { name: 'openai' })[0]!.value,
    ).toBe(0.5);
    used = 60;
    expect(find((await scrape(registry)).samples, 'resilience_rate_limit_usage_ratio')[0]!.value).toBe(1);
  });

  it('awaits asynchronous usage sources at scrape time and leaves out one that fails', async () => {
    const clock = new FakeClock();
    const quota = rateLimiter({ algorithm: tokenBucket({ capacity: 60, refillPerSecond: 1 }), clock });
    await quota.consume('llm', 15);
    const registry = new Registry();
    registerResilienceMetrics(registry, {
      rateLimits: [
        {
          name: 'async',
          usage: () => quota.peek('llm').then((d) => ({ used: d.limit - d.remaining, limit: d.limit })),
        },
        { name: 'sync', usage: () => ({ used: 60 - quota.peekSync('llm').remaining, limit: 60 }) },
        { name: 'down', usage: () => Promise.reject(new Error('store unavailable')) },
        {
          name: 'throws',
          usage: () => {
            throw new Error('no');
          },
        },
      ],
    });
    const ratios = Object.fromEntries(
      find((await scrape(registry)).samples, 'resilience_rate_limit_usage_ratio').map((s) => [s.labels.name, s.value]),
    );
    expect(ratios).toEqual({ async: 0.25, sync: 0.25 });
  });

  it('leaves out a usage reading that is no ratio (NaN, infinite or negative), as it does a failing one', async () => {
    const registry = new Registry();
    const usage = (used: number, limit: number) => () => ({ used, limit });
    registerResilienceMetrics(registry, {
      rateLimits: [
        { name: 'ok', usage: usage(3, 4) },
        { name: 'nan', usage: usage(Number.NaN, 60) },
        { name: 'infinite', usage: usage(Number.POSITIVE_INFINITY, 60) },
        { name: 'negative', usage: usage(-5, 60) },
        { name: 'unlimited', usage: usage(5, Number.POSITIVE_INFINITY) },
      ],
    });
    const ratios = Object.fromEntries(
      find((await scrape(registry)).samples, 'resilience_rate_limit_usage_ratio').map((s) => [s.labels.name, s.value]),
    );
    expect(ratios).toEqual({ ok: 0.75, unlimited: 0 });
  });

  it('names rateLimits when a source has no name, or two share one', () => {
    const usage = () => ({ used: 0, limit: 1 });
    for (const rateLimits of [
      [{ usage }],
      [{ name: '', usage }],
      [
        { name: 'openai', usage },
        { name: 'openai', usage },
      ],
    ]) {
      let error: unknown;
      try {
        registerResilienceMetrics(new Registry(), { rateLimits: rateLimits as never });
      } catch (e) {
        error = e;
      }
      expect((error as ConfigurationError).issues.map((i) => i.option)).toEqual(['rateLimits']);
    }
  });

  it('adds no default metrics and honours the prefix', async () => {
    const registry = new Registry();
    const registered = registerResilienceMetrics(registry, { collectors: metrics(), prefix: 'app_' });
    const { samples } = await scrape(registry);
    expect(samples.every((s) => s.name.startsWith('app_'))).toBe(true);
    expect(samples.some((s) => s.name.startsWith('process_') || s.name.startsWith('nodejs_'))).toBe(false);
    expect(registered.names).toContain('app_calls_total');
    registered.unregister();
    expect(await registry.metrics()).toBe('\n');
  });

  it('refuses a second registration of the same metrics with a ConfigurationError, registering none of them', async () => {
    const stats = metrics({ clock: new FakeClock() });
    const { source, listeners } = counted(stats);
    const registry = new Registry();
    const first = registerResilienceMetrics(registry, { breakers: [{ name: 'payments', state: 'closed' }] });
    // A hot reload, or a second toolkit instance, registering again into the same registry.
    let error: unknown;
    try {
      registerResilienceMetrics(registry, { collectors: source, breakers: [{ name: 'payments', state: 'open' }] });
    } catch (e) {
      error = e;
    }
    expect(isConfigurationError(error)).toBe(true);
    expect((error as ConfigurationError).issues.map((i) => i.option)).toEqual(['registry']);
    expect((error as Error).message).toMatch(/resilience_circuit_state[\s\S]*unregister\(\)[\s\S]*prefix/);
    // Nothing of the refused call is left behind: no metric, no subscription to the collector.
    expect(registry.getMetricsAsArray().map((m) => (m as unknown as { name: string }).name)).toEqual(first.names);
    expect(listeners()).toBe(0);
    // After unregister(), the same registration succeeds.
    first.unregister();
    const second = registerResilienceMetrics(registry, { collectors: source, breakers: [] });
    expect(listeners()).toBe(1);
    second.unregister();
    // The refusal names every metric that is taken, whichever options registered them.
    const full = {
      collectors: { payments: stats },
      breakers: new BreakerRegistry(),
      rateLimits: [{ name: 'openai', usage: () => ({ used: 0, limit: 1 }) }],
      summary: true,
    };
    const all = registerResilienceMetrics(registry, full);
    expect(() => registerResilienceMetrics(registry, full)).toThrow(
      expect.objectContaining({ issues: [expect.objectContaining({ option: 'registry', received: all.names })] }),
    );
  });

  it('unregister removes only its own metrics: a late second call leaves a newer registration alone', async () => {
    const registry = new Registry();
    const old = registerResilienceMetrics(registry, { collectors: metrics({ clock: new FakeClock() }) });
    old.unregister();
    const stats = metrics({ clock: new FakeClock() });
    const current = registerResilienceMetrics(registry, { collectors: stats });
    // A hot-reload dispose hook, or a test's cleanup, that runs the old disposer again.
    old.unregister();
    stats.recordCall({ latencyMs: 1, ok: true });
    const { samples } = await scrape(registry);
    expect(find(samples, 'resilience_calls_total', { outcome: 'ok' })[0]?.value).toBe(1);
    expect(find(samples, 'resilience_call_duration_seconds_count')[0]?.value).toBe(1);
    current.unregister();
    expect(await registry.metrics()).toBe('\n');
  });

  it('takes one snapshot per collector per scrape', async () => {
    const stats = metrics({ clock: new FakeClock() });
    let snapshots = 0;
    const counting = {
      snapshot: () => {
        snapshots++;
        return stats.snapshot();
      },
    };
    const registry = new Registry();
    registerResilienceMetrics(registry, { collectors: counting });
    await registry.metrics();
    expect(snapshots).toBe(1);
    await registry.metrics();
    expect(snapshots).toBe(2);
  });

  it('rejects bad options naming each one', () => {
    expect(() =>
      registerResilienceMetrics(undefined as never, { collectors: { a: alerting() as never }, prefix: '9bad' }),
    ).toThrow(/registry[\s\S]*collectors[\s\S]*prefix/);
    expect(() =>
      registerResilienceMetrics(new Registry(), {
        breakers: [{ state: 'open' } as never],
        breakerStates: 'open' as never,
      }),
    ).toThrow(/breakers[\s\S]*breakerStates/);
    for (const buckets of [[], [0.1, 0.1], [0, 1], [1, Number.POSITIVE_INFINITY], 'x']) {
      expect(() => registerResilienceMetrics(new Registry(), { buckets: buckets as never })).toThrow(/buckets/);
    }
    expect(() => registerResilienceMetrics(new Registry(), { summary: 'yes' as never })).toThrow(/summary/);
    expect(PROMETHEUS_DEFAULTS).toMatchObject({ prefix: 'resilience_', quantiles: [0.5, 0.95, 0.99], summary: false });
  });

  it.each([
    ['null options', null, 'options'],
    ['a number as options', 42, 'options'],
    ['a misspelt option', { prefx: 'app_' }, 'prefx'],
    ['an unknown option', { histogram: true }, 'histogram'],
    ['null collectors', { collectors: null }, 'collectors'],
    ['a number as collectors', { collectors: 5 }, 'collectors'],
    ['true as collectors', { collectors: true }, 'collectors'],
  ])('rejects %s with a ConfigurationError naming it', (_, options, option) => {
    let error: unknown;
    try {
      registerResilienceMetrics(new Registry(), options as never);
    } catch (e) {
      error = e;
    }
    expect(isConfigurationError(error)).toBe(true);
    expect((error as ConfigurationError).issues.map((i) => i.option)).toContain(option);
  });

  it('suggests the option a misspelling meant', () => {
    expect(() => registerResilienceMetrics(new Registry(), { prefx: 'app_' } as never)).toThrow(
      /did you mean prefix\?/,
    );
  });
});
