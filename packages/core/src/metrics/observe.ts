import { OptionsValidator } from '../errors/validate.js';
import type { Disposer, Subscribe } from '../events/emitter.js';
import { eventSources } from '../pipeline/layers.js';
import type { CallObserver } from '../policy/calls.js';
import type { PolicyEvent } from '../policy/policy.js';
import { type MetricsCollector, metrics } from './metrics.js';

/**
 * Anything with an `onEvent` subscription: a policy, a pipeline, a breaker. With
 * `observeCalls` (pipelines, retry, circuitBreaker, timeout, bulkhead and hedge have it; a
 * fallback and a limiter's policy do not) its calls are timed and counted too.
 */
export interface ObservedSource {
  readonly onEvent: Subscribe<PolicyEvent>;
  observeCalls?(observer: CallObserver): Disposer;
}

/** What {@link observe} returns: a disposer that also exposes the collector it feeds. */
export type Observation = Disposer & { readonly collector: MetricsCollector };

/** Per collector, the event sources it listens to, each once however often it is observed. */
const listening = new WeakMap<MetricsCollector, Map<ObservedSource, { observers: number; dispose: Disposer }>>();

const text = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);

/**
 * Feeds a collector from a policy or a pipeline without wrapping calls: every call made
 * through its `execute` (or `wrap`) is recorded with its outcome and its duration on the
 * collector's clock, as `recordCall` would, and its events are counted. A call that
 * reaches a policy as a layer of a pipeline belongs to the pipeline, so observe the pipeline
 * you call; observing it and its layers (or a nested pipeline) with one collector counts
 * each call and each event once.
 *
 * Events are read by their `type` only, so any policy that reports these types works:
 * `'success'` and `'give_up'` with `attempts` (a retry policy's: the attempts a call took),
 * `'retry'`, `'timeout'`, `'rejected'` (counted under the event's `reason`; a breaker's
 * rejection, which carries its `state`, under `circuit_open`, `circuit_half_open` or
 * `circuit_isolated`; otherwise under the policy's name), `'rate_limited'` and
 * `'state_change'` (the new state from `to` or `state`).
 *
 * @example
 * const stop = observe(pipeline(retry(), breaker));
 * stop.collector.snapshot().latency.p95;
 * stop(); // unsubscribes
 */
export function observe(source: ObservedSource, collector: MetricsCollector = metrics()): Observation {
  const v = new OptionsValidator('observe');
  v.check(typeof source?.onEvent === 'function', 'source', source, 'a policy or pipeline (with onEvent)');
  v.check(typeof collector?.recordRetry === 'function', 'collector', collector, 'a metrics() collector');
  v.done();
  const stopCalls = typeof source.observeCalls === 'function' ? source.observeCalls(collector) : undefined;
  let subscriptions = listening.get(collector);
  if (subscriptions === undefined) listening.set(collector, (subscriptions = new Map()));
  const sources = eventSources(source);
  for (const from of sources) {
    const entry = subscriptions.get(from);
    if (entry !== undefined) entry.observers++;
    else subscriptions.set(from, { observers: 1, dispose: from.onEvent((event) => count(collector, event)) });
  }
  let observing = true;
  const stop = () => {
    if (!observing) return;
    observing = false;
    stopCalls?.();
    for (const from of sources) {
      const entry = subscriptions.get(from);
      if (entry !== undefined && --entry.observers === 0) {
        entry.dispose();
        subscriptions.delete(from);
      }
    }
  };
  return Object.assign(stop, { collector });
}

function count(collector: MetricsCollector, event: PolicyEvent): void {
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
}
