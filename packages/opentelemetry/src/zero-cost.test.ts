import { metrics, trace } from '@opentelemetry/api';
import { BreakerRegistry, type ObservedSource, retry } from '@resilience/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { instrument, instrumentAll } from './instrument.js';
import { sdk } from './sdk.fixture.js';

/** A source that records what is asked of it. */
function spySource() {
  return {
    onEvent: vi.fn(() => () => {}),
    observeCalls: vi.fn((_observer: Parameters<NonNullable<ObservedSource['observeCalls']>>[0]) => () => {}),
    observeAttempts: vi.fn(() => () => {}),
  };
}

describe('with no SDK registered', () => {
  it('instrument installs nothing, so an instrumented policy costs what it did', () => {
    // The API's global providers, as an application without an SDK has them.
    expect(metrics.getMeterProvider().getMeter('x').createCounter('x').constructor.name).toMatch(/Noop/);
    const source = spySource();
    const stop = instrument(source, { name: 'payments' });
    expect(source.onEvent).not.toHaveBeenCalled();
    expect(source.observeCalls).not.toHaveBeenCalled();
    expect(source.observeAttempts).not.toHaveBeenCalled();
    stop();
  });

  it('instrumentAll does not subscribe to the registry', () => {
    const registry = new BreakerRegistry();
    const onAdd = vi.spyOn(registry, 'onAdd');
    instrumentAll(registry);
    expect(onAdd).not.toHaveBeenCalled();
  });

  it('with metrics but no tracer, calls are timed but not run in spans, and attempts are left alone', () => {
    const source = spySource();
    instrument(source, {
      name: 'payments',
      meterProvider: sdk().meterProvider,
      tracerProvider: trace.getTracerProvider(),
    });
    expect(source.observeCalls).toHaveBeenCalledTimes(1);
    expect(source.observeCalls.mock.calls[0]![0].runCall).toBeUndefined();
    expect(source.observeAttempts).not.toHaveBeenCalled();
  });
});

describe('with an SDK registered globally', () => {
  afterEach(() => {
    metrics.disable();
    trace.disable();
  });

  it('instrument reports through the global providers when none are given', async () => {
    const otel = sdk();
    metrics.setGlobalMeterProvider(otel.meterProvider);
    trace.setGlobalTracerProvider(otel.tracerProvider);
    const policy = retry();
    instrument(policy, { name: 'payments' });
    await policy.execute(() => 'paid');
    expect((await otel.points('resilience.call.duration')).map((p) => p.attributes)).toEqual([
      { 'resilience.policy.name': 'payments', 'resilience.outcome': 'success' },
    ]);
    expect(otel.spans().map((s) => s.name)).toEqual(['resilience.attempt', 'resilience.call']);
  });
});
