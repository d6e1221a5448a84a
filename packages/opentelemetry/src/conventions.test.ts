import { backoff, circuitBreaker, consecutive, pipeline, retry } from '@resilience/core';
import { describe, expect, it } from 'vitest';
import { instrument } from './instrument.js';
import { networkError, sdk } from './sdk.fixture.js';

describe('instrument names and units', () => {
  it('follow the semantic conventions: seconds for durations, {thing} for counts, 1 only for a .utilization ratio', async () => {
    const otel = sdk();
    const source = pipeline(
      retry({ maxAttempts: 2, backoff: backoff.constant(0) }),
      circuitBreaker({ strategy: consecutive(1), registry: false }),
    );
    instrument(source, { name: 'payments', meterProvider: otel.meterProvider, usage: () => ({ used: 1, limit: 4 }) });
    await source.execute(() => Promise.reject(networkError())).catch(() => {});
    await source.execute(() => 1).catch(() => {});

    const described = (await otel.described()).map(({ name, kind, unit }) => ({ name, kind, unit }));
    // An exporter to Prometheus appends `_ratio` to a gauge in unit `1` and drops a `{…}` unit: the
    // breaker state is a count of breakers in a state (resilience_breaker_state), not a ratio.
    expect(described.sort((a, b) => (a.name < b.name ? -1 : 1))).toEqual([
      { name: 'resilience.attempts', kind: 'counter', unit: '{attempt}' },
      { name: 'resilience.breaker.state', kind: 'gauge', unit: '{breaker}' },
      { name: 'resilience.call.duration', kind: 'histogram', unit: 's' },
      { name: 'resilience.rate_limit.utilization', kind: 'gauge', unit: '1' },
      { name: 'resilience.rejections', kind: 'counter', unit: '{call}' },
      { name: 'resilience.retries', kind: 'counter', unit: '{retry}' },
    ]);
  });
});
