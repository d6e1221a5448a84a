import { BreakerRegistry, circuitBreaker, consecutive, pipeline, retry } from '@resilience/core';
import { describe, expect, it } from 'vitest';
import { instrument, instrumentAll } from './instrument.js';
import { networkError, sdk, useContextManager, valueAt } from './sdk.fixture.js';

useContextManager();

describe('instrumentAll', () => {
  it('instruments the breakers of a registry, those that join later too, each under its own name', async () => {
    const otel = sdk();
    const registry = new BreakerRegistry();
    const payments = circuitBreaker({ name: 'payments', registry, strategy: consecutive(1) });
    const stop = instrumentAll(registry, { meterProvider: otel.meterProvider, tracerProvider: otel.tracerProvider });
    const search = circuitBreaker({ name: 'search', registry, strategy: consecutive(1) });
    for (const breaker of [payments, search]) {
      await breaker.execute(() => Promise.reject(networkError())).catch(() => {});
      await breaker.execute(() => 1).catch(() => {});
    }

    const states = await otel.points('resilience.breaker.state');
    for (const name of ['payments', 'search']) {
      expect(valueAt(states, { 'resilience.policy.name': name, 'resilience.breaker.state': 'open' })).toBe(1);
      expect(valueAt(states, { 'resilience.policy.name': name, 'resilience.breaker.state': 'closed' })).toBe(0);
    }
    const rejections = await otel.points('resilience.rejections');
    expect(rejections.map((p) => [p.attributes['resilience.policy.name'], p.value])).toEqual([
      ['payments', 1],
      ['search', 1],
    ]);
    const opened = otel.spans().filter((s) => s.events.some((e) => e.name === 'resilience.breaker.state_change'));
    expect(opened.map((s) => s.attributes['resilience.policy.name'])).toEqual(['payments', 'search']);

    stop();
    const late = circuitBreaker({ name: 'late', registry, strategy: consecutive(1) });
    for (const breaker of [search, late]) {
      await breaker.execute(() => Promise.reject(networkError())).catch(() => {});
      await breaker.execute(() => 1).catch(() => {});
    }
    expect((await otel.points('resilience.rejections')).map((p) => p.value)).toEqual([1, 1]);
  });

  it('keeps breaker names bounded: at most 32 per instrumentAll, later ones as _OTHER with their worst state', async () => {
    const otel = sdk();
    const registry = new BreakerRegistry();
    instrumentAll(registry, { meterProvider: otel.meterProvider, tracerProvider: otel.tracerProvider });
    // A client's breakers are named per host, and the hosts may come from requests (webhook targets).
    const breakers = Array.from({ length: 40 }, (_, i) =>
      circuitBreaker({ name: `http-client:host-${i}.example`, registry, strategy: consecutive(1) }),
    );
    for (const breaker of breakers) await breaker.execute(() => 1);
    await breakers[39]!.execute(() => Promise.reject(networkError())).catch(() => {});

    const names = (points: Array<{ attributes: Record<string, unknown> }>) =>
      new Set(points.map((p) => p.attributes['resilience.policy.name']));
    const attempts = await otel.points('resilience.attempts');
    expect(names(attempts).size).toBe(33);
    expect(valueAt(attempts, { 'resilience.policy.name': '_OTHER', 'resilience.outcome': 'success' })).toBe(8);
    const states = await otel.points('resilience.breaker.state');
    expect(states).toHaveLength(33 * 4);
    expect(valueAt(states, { 'resilience.policy.name': '_OTHER', 'resilience.breaker.state': 'open' })).toBe(1);
    expect(names(otel.spans().map((s) => ({ attributes: s.attributes }))).size).toBe(33);
  });

  it('cuts a long breaker name to 100 characters, the longest name instrument() takes, on metrics and spans', async () => {
    const otel = sdk();
    const registry = new BreakerRegistry();
    instrumentAll(registry, { meterProvider: otel.meterProvider, tracerProvider: otel.tracerProvider });
    // A webhook target's host may be tens of kilobytes long, and a client names its breaker after it.
    const name = `http-client:${'a'.repeat(70_000)}.example`;
    const breaker = circuitBreaker({ name, registry, strategy: consecutive(1) });
    await breaker.execute(() => Promise.reject(networkError())).catch(() => {});
    await breaker.execute(() => 1).catch(() => {});
    const cut = name.slice(0, 100);
    const names = [
      ...(await otel.points('resilience.breaker.state')),
      ...(await otel.points('resilience.rejections')),
      ...otel.spans(),
    ].map((p) => p.attributes['resilience.policy.name']);
    expect(new Set(names)).toEqual(new Set([cut]));
  });

  it('reports a breaker both in an instrumented pipeline and in instrumentAll once (the setup of the docs)', async () => {
    const otel = sdk();
    const registry = new BreakerRegistry();
    const providers = { meterProvider: otel.meterProvider, tracerProvider: otel.tracerProvider };
    const breaker = circuitBreaker({ name: 'payments-breaker', registry, strategy: consecutive(1) });
    const payments = pipeline(retry({ maxAttempts: 1 }), breaker);
    const stop = instrument(payments, { name: 'payments', ...providers });
    const stopAll = instrumentAll(registry, providers);
    await payments.execute(() => Promise.reject(networkError())).catch(() => {});
    await payments.execute(() => 1).catch(() => {});
    const rejections = async () =>
      (await otel.points('resilience.rejections')).map((p) => [p.attributes['resilience.policy.name'], p.value]);
    // Counted once, by the first instrumentation that reached the breaker.
    expect(await rejections()).toEqual([['payments', 1]]);
    const changes = otel.spans().flatMap((s) => s.events.filter((e) => e.name === 'resilience.breaker.state_change'));
    expect(changes.map((e) => e.attributes?.['resilience.policy.name'])).toEqual(['payments']);
    // Once the first is removed, the other reports the breaker under its own name.
    stop();
    await breaker.execute(() => 1).catch(() => {});
    expect(await rejections()).toEqual([
      ['payments', 1],
      ['payments-breaker', 1],
    ]);
    stopAll();
  });

  it('reports a name shared by several breakers once, with the worst state', async () => {
    const otel = sdk();
    const registry = new BreakerRegistry();
    circuitBreaker({ name: 'api', registry });
    const open = circuitBreaker({ name: 'api', registry, strategy: consecutive(1) });
    instrumentAll(registry, { meterProvider: otel.meterProvider });
    await open.execute(() => Promise.reject(networkError())).catch(() => {});
    const states = await otel.points('resilience.breaker.state');
    expect(states).toHaveLength(4);
    expect(valueAt(states, { 'resilience.breaker.state': 'open' })).toBe(1);
  });

  it.each([
    ['instrumentAll, then the pipeline', true],
    ['the pipeline, then instrumentAll', false],
  ])(
    'a name reported by a pipeline and by instrumentAll shows its worst state (%s), never the last observed',
    async (_, allFirst) => {
      const otel = sdk();
      const registry = new BreakerRegistry();
      // Two breakers named `payments` (a hot reload's old and new one): the pipeline's stays closed, the other opens.
      const closed = circuitBreaker({ name: 'payments', registry });
      const open = circuitBreaker({ name: 'payments', registry, strategy: consecutive(1) });
      const instrumentPipeline = () =>
        instrument(pipeline(retry({ maxAttempts: 1 }), closed), {
          name: 'payments',
          meterProvider: otel.meterProvider,
        });
      if (!allFirst) instrumentPipeline();
      instrumentAll(registry, { meterProvider: otel.meterProvider });
      if (allFirst) instrumentPipeline();
      await open.execute(() => Promise.reject(networkError())).catch(() => {});

      const states = await otel.points('resilience.breaker.state');
      expect(states).toHaveLength(4);
      expect(valueAt(states, { 'resilience.policy.name': 'payments', 'resilience.breaker.state': 'open' })).toBe(1);
      expect(valueAt(states, { 'resilience.policy.name': 'payments', 'resilience.breaker.state': 'closed' })).toBe(0);
    },
  );
});
