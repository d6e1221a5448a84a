import type { Counter, Histogram, Meter, ObservableGauge } from '@opentelemetry/api';

/** The instruments this package reports through, made once per meter. */
export interface Instruments {
  readonly duration: Histogram;
  readonly attempts: Counter;
  readonly retries: Counter;
  readonly rejections: Counter;
  readonly breakerState: ObservableGauge;
  readonly rateLimitUsage: ObservableGauge;
}

/**
 * Bucket bounds advised for `resilience.call.duration`, in seconds: 1–2.5–5 steps from 5 ms
 * to 10 s for HTTP calls, then 30, 60 and 120 s for LLM completions (the Prometheus
 * exporter's buckets). A View in the SDK overrides them.
 */
export const DURATION_BUCKETS: readonly number[] = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120,
];

const made = new WeakMap<Meter, Instruments>();

/** The instruments of `meter`, made on first use. */
export function instrumentsOf(meter: Meter): Instruments {
  let instruments = made.get(meter);
  if (instruments === undefined) {
    instruments = {
      duration: meter.createHistogram('resilience.call.duration', {
        description: 'Duration of calls made through an instrumented policy, from start to settlement.',
        unit: 's',
        advice: { explicitBucketBoundaries: [...DURATION_BUCKETS] },
      }),
      attempts: meter.createCounter('resilience.attempts', {
        description: 'Attempts made to run a call: each try of a retry policy, else one per call.',
        unit: '{attempt}',
      }),
      retries: meter.createCounter('resilience.retries', {
        description: 'Retries made by retry policies, by the kind of failure retried.',
        unit: '{retry}',
      }),
      rejections: meter.createCounter('resilience.rejections', {
        description:
          'Calls refused by a policy (open breaker, full bulkhead, rate limit, shedding, throttle, spent retry budget).',
        unit: '{call}',
      }),
      breakerState: meter.createObservableGauge('resilience.breaker.state', {
        // A count of breakers in a state (summed: how many are open), not a ratio: unit `1` would
        // make an exporter to Prometheus name it resilience_breaker_state_ratio.
        description: "1 for a circuit breaker's current state, 0 for its other states.",
        unit: '{breaker}',
      }),
      // `.utilization`, the conventions' name for a fraction of a limit (`.usage` is an amount in use).
      rateLimitUsage: meter.createObservableGauge('resilience.rate_limit.utilization', {
        description: 'Share of a rate limit in use: used / limit.',
        unit: '1',
      }),
    };
    made.set(meter, instruments);
  }
  return instruments;
}
