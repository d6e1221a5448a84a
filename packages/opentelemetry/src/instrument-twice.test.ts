import type { Histogram } from '@opentelemetry/sdk-metrics';
import { backoff, circuitBreaker, pipeline, retry } from '@resilience/core';
import { FakeClock } from '@resilience/core/testing';
import { describe, expect, it } from 'vitest';
import { instrument } from './instrument.js';
import { networkError, sdk, useContextManager } from './sdk.fixture.js';

useContextManager();

describe('a source instrumented twice', () => {
  it('reports each call once per meter and tracer (a hot reload that runs instrument again), the other after stop', async () => {
    const clock = new FakeClock();
    const otel = sdk();
    const other = sdk();
    const payments = pipeline(
      retry({ maxAttempts: 2, backoff: backoff.constant(0), clock }),
      circuitBreaker({ registry: false, clock }),
    );
    const providers = { meterProvider: otel.meterProvider, tracerProvider: otel.tracerProvider, clock };
    const stop = instrument(payments, { name: 'payments', ...providers });
    instrument(payments, { name: 'payments', ...providers });
    // Another SDK (a second exporter pipeline) reports on its own.
    instrument(payments, { name: 'payments', meterProvider: other.meterProvider, clock });
    let n = 0;
    const call = () =>
      payments.execute(() => (++n % 2 === 1 ? Promise.reject(networkError()) : Promise.resolve('paid')));
    const first = call();
    await clock.runAll();
    await first;

    const count = async (o: typeof otel) =>
      (await o.points<Histogram>('resilience.call.duration')).reduce((sum, p) => sum + p.value.count, 0);
    const attempts = async (o: typeof otel) =>
      (await o.points('resilience.attempts')).reduce((sum, p) => sum + p.value, 0);
    expect(await count(otel)).toBe(1);
    expect(await attempts(otel)).toBe(2);
    expect(await count(other)).toBe(1);
    const spans = (name: string) => otel.spans().filter((s) => s.name === name);
    expect(spans('resilience.call')).toHaveLength(1);
    expect(spans('resilience.attempt')).toHaveLength(2);

    // With the first removed, the second reports.
    stop();
    const second = call();
    await clock.runAll();
    await second;
    expect(await count(otel)).toBe(2);
    expect(await attempts(otel)).toBe(4);
    expect(spans('resilience.call')).toHaveLength(2);
    expect(spans('resilience.attempt')).toHaveLength(4);
  });

  it('reports each call once when the other entry of this package (ESM and CommonJS) instruments it too', async () => {
    const copy = (await import('./instrument.js?copy' as string)) as typeof import('./instrument.js');
    const clock = new FakeClock();
    const otel = sdk();
    const payments = pipeline(
      retry({ maxAttempts: 2, backoff: backoff.constant(0), clock }),
      circuitBreaker({ registry: false, clock }),
    );
    const providers = { meterProvider: otel.meterProvider, tracerProvider: otel.tracerProvider, clock };
    instrument(payments, { name: 'payments', ...providers });
    copy.instrument(payments, { name: 'payments', ...providers });
    let n = 0;
    const called = payments.execute(() => (++n === 1 ? Promise.reject(networkError()) : Promise.resolve('paid')));
    await clock.runAll();
    await called;
    const histograms = await otel.points<Histogram>('resilience.call.duration');
    expect(histograms.reduce((sum, p) => sum + p.value.count, 0)).toBe(1);
    expect((await otel.points('resilience.attempts')).reduce((sum, p) => sum + p.value, 0)).toBe(2);
    expect(otel.spans().filter((s) => s.name === 'resilience.call')).toHaveLength(1);
    expect(otel.spans().filter((s) => s.name === 'resilience.attempt')).toHaveLength(2);
  });
});
