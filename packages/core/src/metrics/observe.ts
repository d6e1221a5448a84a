import { OptionsValidator } from '../errors/validate.js';
import type { Disposer, Subscribe } from '../events/emitter.js';
import { processWide } from '../events/process-wide.js';
import type { DeadLetterReason } from '../messages/options.js';
import { eventSources } from '../pipeline/layers.js';
import type { CallObserver } from '../policy/calls.js';
import type { PolicyEvent } from '../policy/policy.js';
import type { RollbackReason } from '../transaction/options.js';
import { type MetricsCollector, metrics } from './metrics.js';
import { DEAD_LETTER_REASONS, ROLLBACK_REASONS } from './window.js';

/**
 * Anything with an `onEvent` subscription: a policy, a pipeline, a breaker. With
 * `observeCalls` (a fallback and a limiter's policy have none) its calls are counted too.
 */
export interface ObservedSource {
  readonly onEvent: Subscribe<PolicyEvent>;
  observeCalls?(observer: CallObserver): Disposer;
}

/**
 * A breaker registry (core's `breakerRegistry` or a `BreakerRegistry` of your own): the
 * events of each breaker it lists, and of each that joins later, are counted.
 */
export interface ObservedRegistry {
  breakers(): readonly object[];
  readonly onAdd: Subscribe<object>;
}

/** What {@link observe} returns: a disposer that also exposes the collector it feeds. */
export type Observation = Disposer & { readonly collector: MetricsCollector };

type Subscriptions = WeakMap<ObservedSource, { observers: number; dispose: Disposer }>;

/**
 * Per collector, the event sources it listens to, each once however often it is observed.
 * Weak both ways: listening to a registry's breakers never keeps one alive. On `globalThis`, so
 * every copy of core (ESM and CommonJS entries) shares it; versioned, should its shape change.
 */
const listening = (): WeakMap<MetricsCollector, Subscriptions> =>
  processWide('@resilience/core:observed.v1', () => new WeakMap());

const isSource = (v: unknown): v is ObservedSource => typeof (v as ObservedSource | null)?.onEvent === 'function';
const isRegistry = (v: unknown): v is ObservedRegistry =>
  typeof (v as ObservedRegistry | null)?.breakers === 'function' && typeof (v as ObservedRegistry).onAdd === 'function';

const text = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);
/** The event's policy name; a source of your own may send none (its listener must not throw into it). */
const policy = (e: { policy?: unknown }): string => text(e.policy) ?? 'unknown';

/**
 * Feeds a collector from a policy, a pipeline, a breaker registry or any `onEvent` source,
 * each call and event counted once (docs/metrics.md). `stop()` unsubscribes.
 * @example const stop = observe(pipeline(retry(), breaker));
 */
export function observe(
  source: ObservedSource | ObservedRegistry,
  collector: MetricsCollector = metrics(),
): Observation {
  const v = new OptionsValidator('observe');
  v.check(
    isSource(source) || isRegistry(source),
    'source',
    source,
    'a policy, pipeline or other event source (with onEvent), or a breaker registry (breakers() and onAdd)',
  );
  v.check(typeof collector?.recordRetry === 'function', 'collector', collector, 'a metrics() collector');
  v.done();
  const all = listening();
  let subscriptions = all.get(collector);
  if (subscriptions === undefined) all.set(collector, (subscriptions = new WeakMap()));
  const stop = isSource(source)
    ? observeSource(source, collector, subscriptions)
    : observeRegistry(source, collector, subscriptions);
  return Object.assign(stop, { collector });
}

/** Starts listening to `from` for `collector`, or counts one more observer of it. */
function listen(from: ObservedSource, collector: MetricsCollector, subscriptions: Subscriptions): void {
  const entry = subscriptions.get(from);
  if (entry !== undefined) entry.observers++;
  else subscriptions.set(from, { observers: 1, dispose: from.onEvent((event) => count(collector, event, from)) });
}

/** Stops one observer's listening to `from`; the last one unsubscribes. */
function release(from: ObservedSource, subscriptions: Subscriptions): void {
  const entry = subscriptions.get(from);
  if (entry !== undefined && --entry.observers === 0) {
    entry.dispose();
    subscriptions.delete(from);
  }
}

/** A disposer that runs `stop` once. */
const once = (stop: () => void): Disposer => {
  let observing = true;
  return () => {
    if (!observing) return;
    observing = false;
    stop();
  };
};

function observeSource(source: ObservedSource, collector: MetricsCollector, subscriptions: Subscriptions): Disposer {
  const stopCalls = typeof source.observeCalls === 'function' ? source.observeCalls(collector) : undefined;
  const sources = eventSources(source);
  for (const from of sources) listen(from, collector, subscriptions);
  return once(() => {
    stopCalls?.();
    for (const from of sources) release(from, subscriptions);
  });
}

function observeRegistry(
  registry: ObservedRegistry,
  collector: MetricsCollector,
  subscriptions: Subscriptions,
): Disposer {
  /** The breakers this observation listens to, held weakly; collected ones are dropped as others join. */
  const joined = new Set<WeakRef<ObservedSource>>();
  const join = (breaker: object) => {
    if (!isSource(breaker)) return;
    for (const ref of joined) if (ref.deref() === undefined) joined.delete(ref);
    joined.add(new WeakRef(breaker));
    listen(breaker, collector, subscriptions);
  };
  const stopAdding = registry.onAdd(join);
  for (const breaker of registry.breakers()) join(breaker);
  return once(() => {
    stopAdding();
    for (const ref of joined) {
      const breaker = ref.deref();
      if (breaker !== undefined) release(breaker, subscriptions);
    }
    joined.clear();
  });
}

function count(collector: MetricsCollector, event: PolicyEvent, from: ObservedSource): void {
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
      collector.recordRejection(text(e.reason) ?? (state ? `circuit_${state.replace('-', '_')}` : policy(e)));
      break;
    }
    case 'rate_limited':
      collector.recordRateLimited();
      break;
    case 'shed':
      collector.recordShed();
      break;
    case 'state_change':
      collector.recordStateChange(policy(e), text(e.to) ?? text(e.state) ?? 'unknown', from);
      break;
    case 'dead_lettered':
      if (DEAD_LETTER_REASONS.includes(e.reason as DeadLetterReason))
        collector.recordDeadLetter(e.reason as DeadLetterReason);
      break;
    case 'commit':
      collector.recordCommit();
      break;
    case 'rollback':
      if (ROLLBACK_REASONS.includes(e.reason as RollbackReason)) collector.recordRollback(e.reason as RollbackReason);
      break;
  }
}
