import type { Attributes, Meter, ObservableResult, Tracer } from '@opentelemetry/api';
import {
  type AttemptObserver,
  type BreakerRegistry,
  type CallObserver,
  classify,
  type Disposer,
  type ObservedSource,
  type PolicyEvent,
  worseBreakerState,
} from '@resilience/core';
import { eventSources, processWide } from '@resilience/core/internal';
import {
  ATTRIBUTES as A,
  errorType,
  failureOutcome,
  firstValues,
  MAX_BREAKER_NAMES,
  MAX_ERROR_TYPES,
  MAX_NAME_LENGTH,
  type RejectionReason,
} from './attributes.js';
import { type Instruments, instrumentsOf } from './instruments.js';
import {
  type InstrumentAllOptions,
  type InstrumentOptions,
  type RateLimitUsage,
  resolveInstrumentAllOptions,
  resolveInstrumentOptions,
  type Telemetry,
} from './options.js';
import { attemptSpans, callSpans, spanStateChange } from './tracing.js';
import { boundedUsage } from './usage-reader.js';

/** A layer as seen here: what it may have besides `onEvent`. */
type Layer = ObservedSource & {
  observeAttempts?(observer: AttemptObserver): Disposer;
  onRetry?: unknown;
  isolate?: unknown;
  state?: unknown;
};

/** The states of a core breaker, each observed as 1 or 0 so a change shows as a flip. */
const BREAKER_STATES = ['closed', 'open', 'half-open', 'isolated'] as const;

/** A subscription to a layer's events, by the meter and tracer it reports through. */
type Reporter = { readonly meter: Meter | undefined; readonly tracer: Tracer | undefined };

/**
 * Live subscriptions, oldest first: to each layer's events, to each source's calls, to each
 * layer's attempts. Only the oldest through a given meter (or tracer) reports, so a breaker
 * met twice (in an instrumented pipeline and through `instrumentAll`), or a pipeline
 * instrumented again (a hot reload), counts once; once it is removed, the next one reports.
 */
type Subscriptions = Record<'reporters' | 'callers' | 'attempters', WeakMap<object, Reporter[]>> & {
  readonly stateReaders: WeakMap<Meter, Set<StateReader>>;
};
/**
 * These and the state readers, on `globalThis`: the ESM and CommonJS entries of this package
 * (two copies in one app) instrumenting the same source then report once too. Versioned,
 * should their shape change.
 */
const shared = (): Subscriptions =>
  processWide('@resilience/opentelemetry:subscriptions.v1', () => ({
    reporters: new WeakMap(),
    callers: new WeakMap(),
    attempters: new WeakMap(),
    stateReaders: new WeakMap(),
  }));

/** Adds `me` to `target`'s subscriptions in `map`: whether it is the oldest through its meter (tracer), and its removal. */
function join(map: WeakMap<object, Reporter[]>, target: object, me: Reporter) {
  const list = map.get(target) ?? [];
  map.set(target, list);
  list.push(me);
  return {
    first: (key: keyof Reporter) => me[key] !== undefined && list.find((r) => r[key] === me[key]) === me,
    leave: () => {
      list.splice(list.indexOf(me), 1);
    },
  };
}

/** An attempt that another instrumentation through the same tracer puts in a span: run as it is. */
const untraced = <T>(run: () => T): T => run();

/** Told for a call that another instrumentation through the same meter times. */
const UNTIMED = Number.NEGATIVE_INFINITY;

const isBreaker = (layer: Layer) => typeof layer.isolate === 'function' && typeof layer.state === 'string';

const once = (stops: Disposer[]): Disposer => {
  let stopped = false;
  return () => {
    if (stopped) return;
    stopped = true;
    for (const stop of stops) stop();
  };
};

/**
 * Reports a policy, pipeline, breaker or rate limiter through the OpenTelemetry API: call
 * durations, attempts, retries and rejections as metrics, breaker states and rate-limit
 * usage as gauges, each call as a `resilience.call` span with a `resilience.attempt` child
 * per retry or hedge attempt, and breaker state changes, hedges and timeouts as span events.
 * Calls are those made through the source's `execute` or `wrap`, so instrument what you
 * call (the pipeline, not its layers).
 *
 * The providers are read once, here: with no SDK registered (the API's no-op providers)
 * nothing is installed and calls cost what they did. Register the SDK before instrumenting.
 * Spans nest through the active context, so the SDK needs a context manager (NodeSDK and
 * NodeTracerProvider install one). Returns a disposer that removes everything.
 *
 * @example
 * const payments = pipeline(retry({ maxAttempts: 3 }), circuitBreaker({ name: 'payments' }));
 * const stop = instrument(payments, { name: 'payments' });
 */
export function instrument(source: ObservedSource, options: InstrumentOptions): Disposer {
  const telemetry = resolveInstrumentOptions(source, options);
  const { usage, usageTimeoutMs = 1_000 } = options;
  const read = usage === undefined ? undefined : boundedUsage(usage, usageTimeoutMs, telemetry.clock);
  return wire(source, options.name, telemetry, firstValues(MAX_ERROR_TYPES), read, true);
}

/**
 * Instruments every breaker of `registry` as {@link instrument} does, each under its own
 * name — those listed now and those that join later — and reports
 * `resilience.breaker.state` for each name from `registry.list()` (the worst state of the
 * breakers sharing it). The first 32 names met are reported as themselves, later ones as
 * `_OTHER`, so breakers named per host or key cannot grow the series without bound. A breaker
 * also inside an instrumented pipeline counts once, under the name of whichever reached it
 * first. Returns a disposer.
 *
 * @example
 * const stop = instrumentAll(breakerRegistry);
 */
export function instrumentAll(
  registry: Pick<BreakerRegistry, 'breakers' | 'list' | 'onAdd'>,
  options: InstrumentAllOptions = {},
): Disposer {
  const telemetry = resolveInstrumentAllOptions(registry, options);
  const { meter, tracer } = telemetry;
  if (meter === undefined && tracer === undefined) return () => {};
  // One disposer per live breaker, dropped when the breaker is collected: memory follows the registry.
  const stops = new Set<Disposer>();
  const finalizer = new FinalizationRegistry<Disposer>((stop) => stops.delete(stop));
  const seen = new WeakSet<object>();
  // One bound for every breaker of the registry: names made per host or key stay at MAX_BREAKER_NAMES.
  const typeOf = firstValues(MAX_ERROR_TYPES);
  const firstNames = firstValues(MAX_BREAKER_NAMES);
  // Cut (a host may be kilobytes long) and copied: a slice keeps its whole parent string alive.
  const nameOf = (name: string) =>
    firstNames(name.length > MAX_NAME_LENGTH ? [...name.slice(0, MAX_NAME_LENGTH)].join('') : name);
  const add = (breaker: object) => {
    const layer = breaker as Layer & { name: string };
    if (seen.has(breaker) || typeof layer.onEvent !== 'function') return;
    seen.add(breaker);
    const stop = wire(layer, nameOf(String(layer.name)), telemetry, typeOf, undefined, false);
    stops.add(stop);
    finalizer.register(breaker, stop, stop);
  };
  for (const breaker of registry.breakers()) add(breaker);
  const all = [registry.onAdd(add)];
  if (meter !== undefined) {
    all.push(readStates(meter, () => registry.list().map(({ name, state }) => [nameOf(name), state] as const)));
  }
  all.push(() => {
    for (const stop of stops) {
      finalizer.unregister(stop);
      stop();
    }
    stops.clear();
  });
  return once(all);
}

/** Reads breaker names and states at a collection. */
type StateReader = () => Iterable<readonly [name: string, state: string]>;

/**
 * Adds `read` to the one `resilience.breaker.state` callback of `meter`. One callback, not one
 * each: a name two instrumentations report (a pipeline named for its breaker, also in
 * `instrumentAll`'s registry) then shows the worst state of both, where separate callbacks
 * observing the same attributes left whichever the SDK read last (a closed breaker hiding an
 * open one). A reader that throws is left out of that collection.
 */
function readStates(meter: Meter, read: StateReader): Disposer {
  // Per meter, the state readers of every live instrumentation, observed by one callback.
  const { stateReaders } = shared();
  let readers = stateReaders.get(meter);
  if (readers === undefined) {
    const all = new Set<StateReader>();
    readers = all;
    stateReaders.set(meter, all);
    instrumentsOf(meter).breakerState.addCallback((result) => {
      const worst = new Map<string, string>();
      for (const reader of all) {
        try {
          for (const [name, state] of reader()) {
            const seen = worst.get(name);
            worst.set(name, seen === undefined ? state : worseBreakerState(seen, state));
          }
        } catch {
          // A registry or breaker that cannot be read: its names are left out of this collection.
        }
      }
      for (const [name, current] of worst) {
        for (const state of BREAKER_STATES) {
          result.observe(state === current ? 1 : 0, { [A.policyName]: name, [A.breakerState]: state });
        }
      }
    });
  }
  readers.add(read);
  return () => readers.delete(read);
}

/** Subscribes what `telemetry` needs to `source` and its layers. Holds no reference to `source` unless `gauges`. */
function wire(
  source: ObservedSource,
  name: string,
  { meter, tracer, clock }: Telemetry,
  typeOf: (type: string) => string,
  usage: (() => Promise<RateLimitUsage>) | undefined,
  gauges: boolean,
): Disposer {
  if (meter === undefined && tracer === undefined) return () => {};
  const m = meter === undefined ? undefined : instrumentsOf(meter);
  const named: Attributes = { [A.policyName]: name };
  const layers = [...eventSources(source)] as Layer[];
  const retried = layers.some((layer) => typeof layer.onRetry === 'function');
  const stops: Disposer[] = [];
  const me: Reporter = { meter, tracer };
  const hosts = hostAttributes(named);

  for (const layer of layers) {
    if (m !== undefined || isBreaker(layer)) {
      const { first, leave } = join(shared().reporters, layer, me);
      const off = layer.onEvent(eventHandler(name, named, m, first, typeOf, hosts));
      stops.push(() => {
        off();
        leave();
      });
    }
    if (tracer !== undefined && typeof layer.observeAttempts === 'function') {
      const { first, leave } = join(shared().attempters, layer, me);
      const spans = attemptSpans(tracer, name, typeof layer.onRetry !== 'function');
      const off = layer.observeAttempts({
        callStarted: () => (first('tracer') ? spans.callStarted() : untraced),
      });
      stops.push(() => {
        off();
        leave();
      });
    }
  }

  if (typeof source.observeCalls === 'function') {
    const { first, leave } = join(shared().callers, source, me);
    const succeeded: Attributes = { ...named, [A.outcome]: 'success' };
    const observer: CallObserver =
      m === undefined
        ? { callStarted: () => 0, callSettled: () => {} }
        : {
            callStarted: () => (first('meter') ? clock.now() : UNTIMED),
            callSettled(startedAt, ok, error) {
              if (startedAt === UNTIMED) return;
              const attributes = ok ? succeeded : failed(named, error, typeOf);
              const seconds = (clock.now() - startedAt) / 1000;
              // A clock stepped back (Date.now() under NTP) reads negative, which the SDK would drop: 0,
              // as core's collector counts it. NaN (a clock that threw) is no duration.
              if (Number.isFinite(seconds)) m.duration.record(Math.max(0, seconds), attributes);
              if (!retried) m.attempts.add(1, attributes); // a call without retries is one attempt
            },
          };
    if (tracer !== undefined) {
      const spans = callSpans(tracer, named);
      observer.runCall = (call) => (first('tracer') ? spans(call) : call());
    }
    const off = source.observeCalls(observer);
    stops.push(() => {
      off();
      leave();
    });
  }

  if (m !== undefined && gauges) {
    const breakers = layers.filter(isBreaker);
    if (breakers.length > 0) {
      stops.push(readStates(meter!, () => breakers.map((b) => [name, b.state as string] as const)));
    }
    if (usage !== undefined) {
      const observe = async (result: ObservableResult) => {
        try {
          const { used, limit } = await usage();
          const ratio = used / limit;
          // NaN, an infinite or a negative use is no reading: left out, like a source that failed.
          if (limit > 0 && ratio >= 0 && Number.isFinite(ratio)) result.observe(ratio, named);
        } catch {
          // A source that fails is left out of this collection.
        }
      };
      m.rateLimitUsage.addCallback(observe);
      stops.push(() => m.rateLimitUsage.removeCallback(observe));
    }
  }
  return once(stops);
}

const failed = (named: Attributes, error: unknown, typeOf: (type: string) => string): Attributes => ({
  ...named,
  [A.outcome]: failureOutcome(error),
  [A.errorType]: typeOf(errorType(error)),
});

/** The attributes of an event and of its success. */
type Base = readonly [named: Attributes, succeeded: Attributes];

/**
 * The attributes of each event: the policy's name, and for a resilient client's events (which
 * carry `host`) the host as `resilience.host` — the first MAX_BREAKER_NAMES hosts as themselves
 * (cut to MAX_NAME_LENGTH), later ones as `_OTHER`, so hosts taken from requests stay bounded.
 */
function hostAttributes(named: Attributes): (event: Record<string, unknown>) => Base {
  const plain: Base = [named, { ...named, [A.outcome]: 'success' }];
  const kept = firstValues(MAX_BREAKER_NAMES);
  const byHost = new Map<string, Base>();
  return (event) => {
    const given = event.host;
    if (typeof given !== 'string') return plain;
    // Cut and copied: a slice keeps its whole parent string alive.
    const host = kept(given.length > MAX_NAME_LENGTH ? [...given.slice(0, MAX_NAME_LENGTH)].join('') : given);
    let base = byHost.get(host);
    if (base === undefined) {
      const attributes = { ...named, [A.host]: host };
      byHost.set(host, (base = [attributes, { ...attributes, [A.outcome]: 'success' }]));
    }
    return base;
  };
}

/** The metrics and span events of one layer's events, read by their `type` and fields. */
function eventHandler(
  name: string,
  policy: Attributes,
  instruments: Instruments | undefined,
  first: (by: keyof Reporter) => boolean,
  typeOf: (type: string) => string,
  baseOf: (event: Record<string, unknown>) => Base,
) {
  let named = policy;
  let m: Instruments | undefined;
  const reject = (reason: RejectionReason, state?: unknown) =>
    m?.rejections.add(
      1,
      typeof state === 'string'
        ? { ...named, [A.rejectionReason]: reason, [A.breakerState]: state }
        : { ...named, [A.rejectionReason]: reason },
    );
  return (event: PolicyEvent) => {
    const e = event as PolicyEvent & Record<string, unknown>;
    m = first('meter') ? instruments : undefined;
    const [attributes, succeeded] = baseOf(e);
    named = attributes;
    switch (e.type) {
      case 'state_change':
        if (first('tracer')) spanStateChange(name, e.from, e.to);
        break;
      case 'retry':
        m?.retries.add(1, { ...named, [A.retryReason]: classify(e.error) });
        break;
      // A retry policy's attempts: `failure` carries the attempt, `success` the attempts (a breaker's carry neither).
      case 'failure':
        if (typeof e.attempt === 'number') m?.attempts.add(1, failed(named, e.error, typeOf));
        break;
      case 'success':
        if (typeof e.attempts === 'number') m?.attempts.add(1, succeeded);
        break;
      case 'give_up':
        if (e.reason === 'budget') reject('budget_spent');
        break;
      case 'rejected':
        // A breaker's rejection carries its state, a bulkhead's its occupancy.
        if (typeof e.state === 'string') reject('broken_circuit', e.state);
        else if (typeof e.executing === 'number') reject('bulkhead_full');
        else reject(e.reason === 'shed' || e.reason === 'throttled' ? e.reason : '_OTHER');
        break;
      case 'rate_limited':
        reject('rate_limited');
        break;
      case 'shed':
        reject('shed');
        break;
    }
  };
}
