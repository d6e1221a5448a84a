import type { Histogram } from '@opentelemetry/sdk-metrics';
import {
  adaptiveThrottle,
  backoff,
  bulkhead,
  circuitBreaker,
  consecutive,
  pipeline,
  rateLimiter,
  retry,
  tokenBucket,
} from '@resilience/core';
import { FakeClock } from '@resilience/core/testing';
import { describe, expect, it } from 'vitest';
import { instrument } from './instrument.js';
import { DURATION_BUCKETS } from './instruments.js';
import { networkError, sdk, valueAt } from './sdk.fixture.js';

describe('metrics', () => {
  it('resilience.call.duration puts each call’s duration, in seconds, in its bucket, by outcome and error.type', async () => {
    const clock = new FakeClock();
    const otel = sdk();
    const breaker = circuitBreaker({ registry: false, clock });
    instrument(breaker, { name: 'payments', meterProvider: otel.meterProvider, clock });
    const call = (ms: number, fail = false) =>
      breaker
        .execute(async () => {
          await clock.sleep(ms);
          if (fail) throw networkError();
          return 'ok';
        })
        .catch(() => undefined);
    const calls = [call(30), call(700), call(3_000, true)];
    await clock.advance(3_000);
    await Promise.all(calls);

    const points = await otel.points<Histogram>('resilience.call.duration');
    const ok = valueAt(points, { 'resilience.policy.name': 'payments', 'resilience.outcome': 'success' })!;
    expect(ok.count).toBe(2);
    expect(ok.sum).toBeCloseTo(0.73);
    expect(ok.buckets.boundaries).toEqual(DURATION_BUCKETS);
    // 0.03 s falls in (0.025, 0.05], 0.7 s in (0.5, 1].
    expect(ok.buckets.counts).toEqual([0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
    const failed = valueAt(points, { 'resilience.outcome': 'failure', 'error.type': 'ECONNRESET' })!;
    expect(failed.count).toBe(1);
    expect(failed.buckets.counts[9]).toBe(1); // (2.5, 5]
  });

  it('records a call during which the clock stepped back as 0 s, not dropped (the SDK drops a negative value)', async () => {
    const fake = new FakeClock(10_000);
    let stepBack = 0;
    // Date.now() moves back when NTP corrects the wall clock.
    const clock = {
      now: () => fake.now() - stepBack,
      sleep: (ms: number, signal?: AbortSignal) => fake.sleep(ms, signal),
      setTimeout: (callback: () => void, ms: number) => fake.setTimeout(callback, ms),
      clearTimeout: (handle: Parameters<FakeClock['clearTimeout']>[0]) => fake.clearTimeout(handle),
    };
    const otel = sdk();
    const breaker = circuitBreaker({ registry: false });
    instrument(breaker, { name: 'payments', meterProvider: otel.meterProvider, clock });
    await breaker.execute(async () => {
      stepBack = 500;
      return 'ok';
    });
    const [point] = await otel.points<Histogram>('resilience.call.duration');
    expect([point?.value.count, point?.value.sum]).toEqual([1, 0]);
  });

  it('counts attempts by outcome and retries by the kind of failure retried', async () => {
    const otel = sdk();
    const policy = retry({ maxAttempts: 3, backoff: backoff.constant(0), handle: () => true });
    instrument(policy, { name: 'search', meterProvider: otel.meterProvider });
    await policy.execute(({ attempt }) => (attempt < 3 ? Promise.reject(networkError()) : 'found'));
    const attempts = await otel.points('resilience.attempts');
    expect(valueAt(attempts, { 'resilience.outcome': 'failure', 'error.type': 'ECONNRESET' })).toBe(2);
    expect(valueAt(attempts, { 'resilience.outcome': 'success' })).toBe(1);
    const retries = await otel.points('resilience.retries');
    expect(retries.map((p) => [p.attributes, p.value])).toEqual([
      [{ 'resilience.policy.name': 'search', 'resilience.retry.reason': 'network' }, 2],
    ]);
  });

  it('keeps error.type bounded on metrics: at most 20 values per instrument(), later ones as _OTHER', async () => {
    const otel = sdk();
    const policy = retry({ maxAttempts: 2, handle: () => false });
    instrument(policy, { name: 'webhooks', meterProvider: otel.meterProvider });
    // An upstream that puts a new code in every answer (OpenAI-style errors carry the body's code).
    for (let i = 0; i < 100; i++) {
      await policy
        .execute(() => Promise.reject(Object.assign(new Error('bad'), { code: `upstream_${i}` })))
        .catch(() => {});
    }
    await policy.execute(() => Promise.reject(Object.assign(new Error('bad'), { code: 'upstream_3' }))).catch(() => {});
    for (const metric of ['resilience.call.duration', 'resilience.attempts']) {
      const types = (await otel.points<unknown>(metric)).map((p) => p.attributes['error.type']);
      expect(new Set(types).size).toBe(21);
      expect(types).toContain('_OTHER');
    }
    const durations = await otel.points<Histogram>('resilience.call.duration');
    expect(valueAt(durations, { 'error.type': 'upstream_3' })?.count).toBe(2); // a value already kept stays itself
    expect(valueAt(durations, { 'error.type': '_OTHER' })?.count).toBe(80);
    expect(valueAt(await otel.points('resilience.attempts'), { 'error.type': '_OTHER' })).toBe(80);
  });

  it('counts a call through a policy without retries as one attempt', async () => {
    const otel = sdk();
    const breaker = circuitBreaker({ registry: false });
    instrument(breaker, { name: 'payments', meterProvider: otel.meterProvider });
    await breaker.execute(() => 1);
    await breaker.execute(() => 1);
    expect(valueAt(await otel.points('resilience.attempts'), { 'resilience.outcome': 'success' })).toBe(2);
  });

  it('a rate-limited request increments resilience.rejections with reason rate_limited', async () => {
    const otel = sdk();
    const limiter = rateLimiter({
      algorithm: tokenBucket({ capacity: 1, refillPerSecond: 1 }),
      clock: new FakeClock(),
    });
    const policy = pipeline(limiter.policy({ key: 'openai', maxWaitMs: 0 }), retry());
    instrument(policy, { name: 'openai', meterProvider: otel.meterProvider });
    await policy.execute(() => 'first');
    await expect(policy.execute(() => 'second')).rejects.toThrow('Rate limit exceeded');
    const rejections = await otel.points('resilience.rejections');
    expect(rejections.map((p) => [p.attributes, p.value])).toEqual([
      [{ 'resilience.policy.name': 'openai', 'resilience.rejection.reason': 'rate_limited' }, 1],
    ]);
    const durations = await otel.points<Histogram>('resilience.call.duration');
    expect(valueAt(durations, { 'resilience.outcome': 'rejected', 'error.type': 'rate_limited' })?.count).toBe(1);
  });

  it('counts a full bulkhead, an open breaker (with its state), a spent retry budget and a throttle by reason', async () => {
    const otel = sdk();
    const meterProvider = otel.meterProvider;
    const full = bulkhead({ limit: 1, queue: 0 });
    instrument(full, { name: 'db', meterProvider });
    let release!: () => void;
    const running = full.execute(() => new Promise<void>((r) => (release = r)));
    await full.execute(() => 1).catch(() => {});
    release();
    await running;
    const breaker = circuitBreaker({ strategy: consecutive(1), registry: false });
    instrument(breaker, { name: 'payments', meterProvider });
    await breaker.execute(() => Promise.reject(networkError())).catch(() => {});
    await breaker.execute(() => 1).catch(() => {});
    const spent = retry({
      backoff: backoff.constant(0),
      handle: () => true,
      budget: { ratio: 0, minRetriesPerSecond: 0 },
    });
    instrument(spent, { name: 'search', meterProvider });
    await spent.execute(() => Promise.reject(networkError())).catch(() => {});

    // An adaptive throttle (a resilient client's `throttle`) that sheds a call before it is sent.
    const throttle = adaptiveThrottle({ k: 1, random: () => 0, clock: new FakeClock() });
    instrument(throttle, { name: 'llm', meterProvider });
    await throttle.execute(() => Promise.reject(networkError())).catch(() => {});
    await expect(throttle.execute(() => 1)).rejects.toMatchObject({ code: 'throttled' });

    const rejections = await otel.points('resilience.rejections');
    expect(rejections.map((p) => [p.attributes, p.value])).toEqual([
      [{ 'resilience.policy.name': 'db', 'resilience.rejection.reason': 'bulkhead_full' }, 1],
      [
        {
          'resilience.policy.name': 'payments',
          'resilience.rejection.reason': 'broken_circuit',
          'resilience.breaker.state': 'open',
        },
        1,
      ],
      [{ 'resilience.policy.name': 'search', 'resilience.rejection.reason': 'budget_spent' }, 1],
      [{ 'resilience.policy.name': 'llm', 'resilience.rejection.reason': 'throttled' }, 1],
    ]);
  });

  it('a breaker that opens flips resilience.breaker.state from closed to open', async () => {
    const otel = sdk();
    const breaker = circuitBreaker({ strategy: consecutive(1), registry: false });
    instrument(pipeline(retry({ maxAttempts: 1 }), breaker), { name: 'payments', meterProvider: otel.meterProvider });
    const states = async () =>
      Object.fromEntries(
        (await otel.points('resilience.breaker.state')).map((p) => [p.attributes['resilience.breaker.state'], p.value]),
      );
    expect(await states()).toEqual({ closed: 1, open: 0, 'half-open': 0, isolated: 0 });
    await breaker.execute(() => Promise.reject(networkError())).catch(() => {});
    expect(await states()).toEqual({ closed: 0, open: 1, 'half-open': 0, isolated: 0 });
  });

  it('reports resilience.rate_limit.utilization as used / limit; a source that fails does not fail the collection', async () => {
    const otel = sdk();
    const limiter = rateLimiter({
      algorithm: tokenBucket({ capacity: 4, refillPerSecond: 1 }),
      clock: new FakeClock(),
    });
    let broken = false;
    instrument(limiter, {
      name: 'openai',
      meterProvider: otel.meterProvider,
      usage: async () => {
        if (broken) throw new Error('store down');
        const d = limiter.peekSync('openai');
        return { used: d.limit - d.remaining, limit: d.limit };
      },
    });
    limiter.consumeSync('openai');
    expect((await otel.points('resilience.rate_limit.utilization')).map((p) => p.value)).toEqual([0.25]);
    broken = true;
    await expect(otel.points('resilience.rate_limit.utilization')).resolves.toBeDefined();
  });

  it('leaves out a usage() still pending after usageTimeoutMs, and calls it again only once it has settled', async () => {
    const otel = sdk();
    const clock = new FakeClock();
    let calls = 0;
    let settle: (usage: { used: number; limit: number }) => void = () => {};
    instrument(retry(), {
      name: 'redis',
      meterProvider: otel.meterProvider,
      clock,
      usageTimeoutMs: 250,
      usage: () => {
        calls++;
        return new Promise((resolve) => {
          settle = resolve;
        });
      },
    });
    const values = async () => {
      const points = otel.points('resilience.rate_limit.utilization');
      await clock.advance(250);
      return (await points).map((p) => p.value);
    };
    expect(await values()).toEqual([]);
    // A collection while the first call hangs waits on that call: one call, not one per collection.
    expect(await values()).toEqual([]);
    expect(calls).toBe(1);
    settle({ used: 3, limit: 4 });
    expect(await values()).toEqual([0.75]);
    await values(); // (the SDK keeps a gauge's last reading through a collection that has none)
    expect(calls).toBe(2);
  });

  it('leaves out a usage reading that is no ratio (NaN, infinite or negative)', async () => {
    const otel = sdk();
    const readings: Record<string, [number, number]> = {
      ok: [1, 4],
      nan: [Number.NaN, 4],
      infinite: [Number.POSITIVE_INFINITY, 4],
      negative: [-1, 4],
      unlimited: [1, Number.POSITIVE_INFINITY],
    };
    for (const [name, [used, limit]] of Object.entries(readings)) {
      instrument(retry(), { name, meterProvider: otel.meterProvider, usage: () => ({ used, limit }) });
    }
    const points = await otel.points('resilience.rate_limit.utilization');
    expect(Object.fromEntries(points.map((p) => [p.attributes['resilience.policy.name'], p.value]))).toEqual({
      ok: 0.25,
      unlimited: 0,
    });
  });

  it('stops reporting once disposed', async () => {
    const otel = sdk();
    const breaker = circuitBreaker({ strategy: consecutive(1), registry: false });
    const stop = instrument(breaker, { name: 'payments', meterProvider: otel.meterProvider });
    stop();
    await breaker.execute(() => Promise.reject(networkError())).catch(() => {});
    await breaker.execute(() => 1).catch(() => {});
    expect(await otel.points('resilience.call.duration')).toEqual([]);
    expect(await otel.points('resilience.rejections')).toEqual([]);
    expect(await otel.points('resilience.breaker.state')).toEqual([]);
  });
});
