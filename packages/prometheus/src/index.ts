import { type Disposer, systemClock, worseBreakerState } from '@resilience/core';
import { isPlainObject } from '@resilience/core/internal';
import { Counter, Gauge, type Metric, type Registry } from 'prom-client';
import { countOf } from './count.js';
import { CallHistogram } from './histogram.js';
import {
  type BreakerLike,
  type BreakerSource,
  isSource,
  type RateLimitUsage,
  type ResilienceMetricsOptions,
  resolveOptions,
  type SnapshotSource,
} from './options.js';
import { WindowSummary } from './summary.js';
import { type Counts, type Tallied, Tally } from './tally.js';

export {
  type BreakerLike,
  type BreakerSource,
  type CollectorList,
  PROMETHEUS_DEFAULTS,
  type RateLimitSource,
  type RateLimitUsage,
  type ResilienceMetricsOptions,
  type SnapshotSource,
} from './options.js';

/**
 * Most breaker names `circuit_state` reports per registration, as core's collector keeps 32
 * for breaker opens: the first met keep their series, any later one is `other` (its worst
 * state), since breakers may be named per host or key.
 */
const MAX_BREAKER_NAMES = 32;
/** Longest breaker name `circuit_state` reports: core's collector cuts names in breaker opens to 48, so the two match. */
const MAX_NAME_LENGTH = 48;

/**
 * Names met (cut to MAX_NAME_LENGTH), at most MAX_BREAKER_NAMES: a name past them is `other`
 * from then on, since breakers and a client's hosts may be named after what requests ask for.
 */
function keptNames(): (given: string) => string {
  const kept = new Set<string>();
  return (given) => {
    // Copied: a slice would keep its whole parent (a host may be kilobytes long) alive.
    // As core cuts: one less rather than keep half a surrogate pair.
    const cut = MAX_NAME_LENGTH - +((given.charCodeAt(MAX_NAME_LENGTH - 1) & 0xfc00) === 0xd800);
    const name = given.length > MAX_NAME_LENGTH ? [...given.slice(0, cut)].join('') : given;
    if (kept.has(name)) return name;
    if (kept.size >= MAX_BREAKER_NAMES) return 'other';
    kept.add(name);
    return name;
  };
}

/**
 * Feeds a collector's calls to a histogram recorder, and counts them in `heard` (which tells
 * the tally of a reset); returns the disposer `onCall` returns, if any.
 */
function subscribe(
  collector: SnapshotSource,
  observe: (seconds: number) => void,
  heard: WeakMap<SnapshotSource, { n: number }>,
): Disposer | undefined {
  if (typeof collector.onCall !== 'function') return undefined;
  const count = { n: 0 };
  const stop: unknown = collector.onCall((call) => {
    count.n++;
    // The sketch's rules: a negative duration (a clock stepped back) is 0; NaN (or an
    // infinite time) is not a duration.
    if (Number.isFinite(call.latencyMs)) observe(Math.max(0, call.latencyMs) / 1_000);
  });
  heard.set(collector, count);
  return typeof stop === 'function' ? (stop as Disposer) : undefined;
}

/** Each breaker's name and state at a scrape: a list that throws ends the reading, a breaker whose name or state throws is left out. */
function readBreakers(list: () => Iterable<BreakerLike>): Array<readonly [string, string]> {
  const read: Array<readonly [string, string]> = [];
  try {
    for (const breaker of list()) {
      try {
        read.push([String(breaker.name), String(breaker.state)]);
      } catch {
        // A breaker over a closed handle: left out of this scrape.
      }
    }
  } catch {
    // A registry that cannot list: no breakers in this scrape.
  }
  return read;
}

/** What {@link registerResilienceMetrics} registered, with a way to remove it again. */
export interface RegisteredMetrics {
  /** Names of the metrics added to the registry. */
  readonly names: readonly string[];
  /** Removes every metric this call registered (and no other) and stops feeding its histogram; again, does nothing. */
  unregister(): void;
}

/**
 * Registers resilience metrics in a prom-client registry. Counters, gauges and the optional
 * summary are read from the collectors, breakers and limiters when the registry is scraped;
 * the duration histogram counts each call as a collector records it. No default metrics are added.
 *
 * - `resilience_calls_total{outcome="ok"|"failed"}`, `resilience_attempts_total`, `resilience_retries_total`,
 *   `resilience_timeouts_total`, `resilience_rejections_total{reason}` — counters of lifetime totals
 * - `resilience_circuit_breaker_opens_total{name}`, `resilience_messages_dead_lettered_total{reason}`,
 *   `resilience_transaction_rollbacks_total{reason}`, `resilience_transaction_commits_total` — what
 *   `observe` counts from breakers, message processors and `transactions()` wrappers
 * - `resilience_call_duration_seconds` — a histogram of call durations (`buckets`)
 * - `resilience_call_duration_summary_seconds{quantile}` — with `summary: true`, the window's quantiles
 * - `resilience_circuit_state{name,state}` — 1 for each breaker's current state, 0 for the others
 *   (the first 32 names met, cut to 48 characters; later ones as `other`)
 * - `resilience_rate_limit_usage_ratio{name}` — `used / limit` of each limiter
 *
 * @example
 * const registry = new Registry();
 * registerResilienceMetrics(registry, { collectors: stats, breakers: [paymentsBreaker] });
 * // A resilient client's per-host collectors, listed at each scrape:
 * registerResilienceMetrics(registry, { collectors: () => Object.fromEntries(api.client.hosts().map((h) => [h, api.client.host(h)?.metrics])) });
 * app.get('/metrics', async (_req, res) => res.type(registry.contentType).send(await registry.metrics()));
 */
export function registerResilienceMetrics(
  registry: Registry,
  options: ResilienceMetricsOptions = {},
): RegisteredMetrics {
  const { named, list, breakers, rateLimits, usageTimeoutMs, prefix, breakerStates, buckets, summary } = resolveOptions(
    registry,
    options,
  );
  const multi = list !== undefined || named.length > 1 || (named.length === 1 && named[0]![0] !== '');
  const withName = <L extends string>(...labels: L[]): Array<L | 'name'> => (multi ? ['name', ...labels] : labels);
  const label = (name: string, rest: Record<string, string> = {}) => (multi ? { name, ...rest } : rest);

  // A function's collectors come and go (a client's hosts): the first MAX_BREAKER_NAMES names met keep their series.
  // Their breaker names too: each host's collector counts the opens of its own breaker (`<client>:<host>`).
  const collectorName = list === undefined ? (given: string) => given : keptNames();
  // The calls each subscribed collector reported through onCall.
  const heard = new WeakMap<SnapshotSource, { n: number }>();
  const tally = new Tally(
    collectorName,
    list === undefined ? (name: string) => name : keptNames(),
    (source) => heard.get(source)?.n,
  );
  // Every collect() of one scrape runs in the same turn; one reading of the collectors serves them all.
  // A collector whose snapshot() throws is left out of that scrape, not the scrape failed.
  let cached: Tallied[] | undefined;
  const snapshots = () => {
    if (!cached) {
      cached = tally.read(list === undefined ? named : follow(listed()));
      queueMicrotask(() => {
        cached = undefined;
      });
    }
    return cached;
  };

  /** The counts of one metric in a tally, by label value. */
  const countsOf = (counts: Counts, suffix: string): Array<[string, number]> => {
    const found: Array<[string, number]> = [];
    for (const [key, n] of counts) {
      const at = key.indexOf('\0');
      if (key.slice(0, at) === suffix) found.push([key.slice(at + 1), n]);
    }
    return found;
  };

  // The histogram's recorder of each exported name, once the histogram exists; each followed collector's.
  const recorders = new Map<string, (seconds: number) => void>();
  let recorder: ((name: string) => (seconds: number) => void) | undefined;
  const followed = new Map<SnapshotSource, { stop: Disposer | undefined; seen: boolean }>();
  /** The function's collectors at this scrape, by given name: a list that throws, or answers no record, lists none. */
  const listed = (): Array<readonly [string, SnapshotSource]> => {
    try {
      const record = list!();
      if (!isPlainObject(record)) return [];
      return Object.entries(record).filter((entry): entry is [string, SnapshotSource] => isSource(entry[1]));
    } catch {
      return [];
    }
  };
  /**
   * Subscribes the histogram to collectors listed for the first time and drops those no longer
   * listed. A collector's calls before the first scrape (or registration) that lists it are
   * counted by its counters, not by the histogram. One whose `onCall` throws feeds no histogram.
   */
  const follow = (entries: Array<readonly [string, SnapshotSource]>) => {
    for (const [given, source] of entries) {
      const at = followed.get(source);
      if (at !== undefined) {
        at.seen = true;
        continue;
      }
      let stop: Disposer | undefined;
      try {
        stop = recorder === undefined ? undefined : subscribe(source, recorder(collectorName(given)), heard);
      } catch {
        // No histogram for this collector; its counters are still served.
      }
      followed.set(source, { stop, seen: true });
    }
    for (const [source, at] of followed) {
      if (at.seen) at.seen = false;
      else {
        followed.delete(source);
        heard.delete(source);
        at.stop?.();
      }
    }
    return entries;
  };

  const registers = [registry];
  const metrics: Metric[] = [];
  const stops: Disposer[] = [];
  // prom-client's types leave out the name every metric holds.
  const nameOf = (metric: Metric) => (metric as unknown as { name: string }).name;
  /** Stops feeding the histogram and removes this call's metrics, by identity: a name may since hold another registration's (after a hot reload). */
  const remove = (names: readonly string[]) => {
    for (const stop of stops.splice(0)) stop();
    metrics.forEach((metric, i) => {
      if (registry.getSingleMetric(names[i]!) === metric) registry.removeSingleMetric(names[i]!);
    });
  };
  const lifetimeCounter = (suffix: string, help: string) =>
    new Counter({
      name: `${prefix}${suffix}`,
      help,
      labelNames: withName(),
      registers,
      collect() {
        this.reset();
        // Without labels prom-client resets to a 0 that rate() would read as a counter reset: a
        // reading left out must show no series.
        this.remove({});
        for (const { name, counts } of snapshots()) {
          const n = counts.get(`${suffix}\0`);
          if (n !== undefined) this.inc(label(name), n);
        }
      },
    });

  /** A counter per value of `labelName`; fixed sets (outcomes, reasons) show every value from the first scrape, at 0. */
  const labelledCounter = (suffix: string, help: string, labelName: string) =>
    new Counter({
      name: `${prefix}${suffix}`,
      help,
      labelNames: withName(labelName),
      registers,
      collect() {
        this.reset();
        for (const { name, counts } of snapshots()) {
          for (const [value, n] of countsOf(counts, suffix)) this.inc(label(name, { [labelName]: value }), n);
        }
      },
    });

  if (named.length > 0 || list !== undefined) {
    metrics.push(
      labelledCounter('calls_total', 'Calls recorded, by outcome.', 'outcome'),
      lifetimeCounter('attempts_total', 'Attempts made by observed retry policies, first calls included.'),
      lifetimeCounter('retries_total', 'Retries made by observed retry policies.'),
      lifetimeCounter('timeouts_total', 'Timeouts seen by observe: timeout policies, message processor time limits.'),
      lifetimeCounter('transaction_commits_total', 'Transactions committed by observed transactions() wrappers.'),
      labelledCounter(
        'messages_dead_lettered_total',
        'Messages set aside by observed message processors, by reason (poison, max_retries_exceeded).',
        'reason',
      ),
      labelledCounter(
        'transaction_rollbacks_total',
        'Transactions rolled back by observed transactions() wrappers, by reason (network_error, error, outcome_unknown).',
        'reason',
      ),
      new Counter({
        name: `${prefix}circuit_breaker_opens_total`,
        help: 'Times each circuit breaker opened, by breaker name (at most 32 names per collector; more count as other).',
        // `name` is the breaker's here: with several collectors, the collector is `collector`.
        labelNames: multi ? ['collector', 'name'] : ['name'],
        registers,
        collect() {
          this.reset();
          for (const { name: collector, counts } of snapshots()) {
            for (const [name, n] of countsOf(counts, 'circuit_breaker_opens_total')) {
              this.inc(multi ? { collector, name } : { name }, n);
            }
          }
        },
      }),
      labelledCounter(
        'rejections_total',
        'Calls rejected by a policy (open circuit, full bulkhead, rate limit, load shedding), by reason.',
        'reason',
      ),
    );
    // Buckets are counted exactly as calls are recorded, one bucket search and three additions each (and `heard`'s one).
    const histogram = new CallHistogram({
      name: `${prefix}call_duration_seconds`,
      help: 'Call durations, recorded as each call settles.',
      labelNames: withName(),
      buckets: [...buckets],
      registers,
    });
    metrics.push(histogram);
    recorder = (name) => {
      let observe = recorders.get(name);
      if (observe === undefined) recorders.set(name, (observe = histogram.series(label(name))));
      return observe;
    };
    try {
      for (const [name, collector] of named) {
        const stop = subscribe(collector, recorder(name), heard);
        if (stop !== undefined) stops.push(stop);
      }
      if (list !== undefined) {
        follow(listed());
        stops.push(() => {
          for (const { stop } of followed.values()) stop?.();
          followed.clear();
        });
      }
    } catch (error) {
      // A collector that cannot be subscribed to: nothing stays registered, so the call can be made again.
      remove(metrics.map(nameOf));
      throw error;
    }
    if (summary) {
      metrics.push(
        new WindowSummary(
          {
            name: `${prefix}call_duration_summary_seconds`,
            help: 'Call duration quantiles over the collector window (within 1 %), with lifetime sum and count.',
            labelNames: withName(),
            registers,
          },
          () => snapshots().map(({ name, counts, snapshot }) => [label(name), counts, snapshot] as const),
        ),
      );
    }
  }

  const keptName = keptNames();
  const breakerList = Array.isArray(breakers)
    ? () => breakers as readonly BreakerLike[]
    : () => (breakers as BreakerSource).breakers();
  if (!Array.isArray(breakers) || breakers.length > 0) {
    metrics.push(
      new Gauge({
        name: `${prefix}circuit_state`,
        help: 'Circuit breaker state: 1 for the current state, 0 for the others.',
        labelNames: ['name', 'state'],
        registers,
        collect() {
          this.reset();
          // One series per name: breakers sharing a name report the worst state, as the core registry lists them.
          const byName = new Map<string, string>();
          for (const [given, state] of readBreakers(breakerList)) {
            const name = keptName(given);
            const seen = byName.get(name);
            byName.set(name, seen === undefined ? state : worseBreakerState(seen, state));
          }
          for (const [name, current] of byName) {
            for (const state of breakerStates) this.set({ name, state }, state === current ? 1 : 0);
            if (!breakerStates.includes(current)) this.set({ name, state: current }, 1);
          }
        },
      }),
    );
  }
  if (rateLimits.length > 0) {
    // Each source's call in flight: a scrape while it is pending waits on it, never calls again.
    const pending: Array<Promise<RateLimitUsage> | undefined> = [];
    const read = (i: number) =>
      (pending[i] ??= Promise.resolve()
        .then(() => rateLimits[i]!.usage())
        .finally(() => {
          pending[i] = undefined;
        }));
    metrics.push(
      new Gauge({
        name: `${prefix}rate_limit_usage_ratio`,
        help: 'Share of a rate limit in use (used / limit).',
        labelNames: ['name'],
        registers,
        async collect() {
          // Read concurrently; a failing or late source must not fail or hold the whole scrape.
          let expire: () => void = () => {};
          const late = new Promise<never>((_, reject) => {
            expire = reject;
          });
          const timer = systemClock.setTimeout(expire, usageTimeoutMs);
          (timer as { unref?: () => void }).unref?.(); // a scrape waiting on a hung source keeps no process alive
          const readings = await Promise.allSettled(rateLimits.map((_, i) => Promise.race([read(i), late])));
          systemClock.clearTimeout(timer);
          this.reset();
          readings.forEach((reading, i) => {
            if (reading.status !== 'fulfilled') return;
            // No object, NaN, an infinite or a negative use is no reading: left out, like a source that failed.
            const ratio = countOf(() => (reading.value.limit > 0 ? reading.value.used / reading.value.limit : -1));
            if (ratio !== undefined) this.set({ name: rateLimits[i]!.name }, ratio);
          });
        },
      }),
    );
  }
  const names = metrics.map(nameOf);
  return { names, unregister: () => remove(names) };
}
