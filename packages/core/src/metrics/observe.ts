import { OptionsValidator } from '../errors/validate.js';
import type { Disposer, Subscribe } from '../events/emitter.js';
import type { PolicyEvent } from '../policy/policy.js';
import { type MetricsCollector, metrics } from './metrics.js';

/** Anything with an `onEvent` subscription: a policy, a pipeline, a breaker. */
export interface ObservedSource {
  readonly onEvent: Subscribe<PolicyEvent>;
}

/** What {@link observe} returns: a disposer that also exposes the collector it feeds. */
export type Observation = Disposer & { readonly collector: MetricsCollector };

const text = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);

/**
 * Feeds a collector from a policy's (or a pipeline's) events, so retries, give-ups,
 * timeouts, rejections and breaker state changes are counted without wrapping calls.
 * Events are read by their `type` only, so any policy that reports these types works:
 * `'success'` and `'give_up'` with `attempts` (a retry policy's: the attempts a call took), `'retry'`, `'timeout'`, `'rejected'` (counted under the event's `reason`; a
 * breaker's rejection, which carries its `state`, under `circuit_open`, `circuit_half_open` or
 * `circuit_isolated`; otherwise under the policy's name), `'rate_limited'` and `'state_change'` (the new state from `to`
 * or `state`). Call latencies are not in events: record them with `recordCall`.
 *
 * @example
 * const stop = observe(pipeline(retry(), breaker));
 * stop.collector.snapshot().lifetime.retries;
 * stop(); // unsubscribes
 */
export function observe(source: ObservedSource, collector: MetricsCollector = metrics()): Observation {
  const v = new OptionsValidator('observe');
  v.check(typeof source?.onEvent === 'function', 'source', source, 'a policy or pipeline (with onEvent)');
  v.check(typeof collector?.recordRetry === 'function', 'collector', collector, 'a metrics() collector');
  v.done();
  const dispose = source.onEvent((event) => {
    const e = event as PolicyEvent & Record<string, unknown>;
    switch (e.type) {
      case 'retry':
        collector.recordRetry();
        break;
      case 'give_up':
        collector.recordGiveUp();
        if (typeof e.attempts === 'number') collector.recordAttempts(e.attempts);
        break;
      case 'success':
        // A retry policy's success carries the attempts the call took; a breaker's does not.
        if (typeof e.attempts === 'number') collector.recordAttempts(e.attempts);
        break;
      case 'timeout':
        collector.recordTimeout();
        break;
      case 'rejected': {
        // A breaker's rejection carries its state ('open', 'half-open', 'isolated').
        const state = text(e.state);
        collector.recordRejection(text(e.reason) ?? (state ? `circuit_${state.replace('-', '_')}` : e.policy));
        break;
      }
      case 'rate_limited':
        collector.recordRejection(text(e.reason) ?? 'rate_limited');
        break;
      case 'state_change':
        collector.recordStateChange(e.policy, text(e.to) ?? text(e.state) ?? 'unknown');
        break;
    }
  });
  return Object.assign(() => dispose(), { collector });
}
