import { type Disposer, type MetricsSnapshot, systemClock, worseBreakerState } from '@resilience/core';
import { Counter, Gauge, type Metric, type Registry } from 'prom-client';
import { countOf } from './count.js';
import { CallHistogram } from './histogram.js';
import {
  type BreakerLike,
  type BreakerSource,
  type RateLimitUsage,
  type ResilienceMetricsOptions,
  resolveOptions,
} from './options.js';
import { WindowSummary } from './summary.js';

export {
  type BreakerLike,
  type BreakerSource,
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
 * app.get('/metrics', async (_req, res) => res.type(registry.contentType).send(await registry.metrics()));
 */
export function registerResilienceMetrics(
  registry: Registry,
  options: ResilienceMetricsOptions = {},
): RegisteredMetrics {
  const { named, breakers, rateLimits, usageTimeoutMs, prefix, breakerStates, buckets, summary } = resolveOptions(
    registry,
    options,
  );
  const multi = named.length > 1 || (named.length === 1 && named[0]![0] !== '');
  const withName = <L extends string>(...labels: L[]): Array<L | 'name'> => (multi ? ['name', ...labels] : labels);
  const label = (name: string, rest: Record<string, string> = {}) => (multi ? { name, ...rest } : rest);

  // Every collect() of one scrape runs in the same turn; one snapshot per collector serves them all.
  // A collector whose snapshot() throws is left out of that scrape, not the scrape failed.
  let cached: Array<readonly [string, MetricsSnapshot]> | undefined;
  const snapshots = () => {
    if (!cached) {
      cached = [];
      for (const [name, c] of named) {
        try {
          cached.push([name, c.snapshot()]);
        } catch {
          // Left out of this scrape: the registry's other metrics are still served.
        }
      }
      queueMicrotask(() => {
        cached = undefined;
      });
    }
    return cached;
  };

  /** The counts of a record read from a snapshot, leaving out what is no count (and the whole record, when reading it throws). */
  const entries = (read: () => Record<string, unknown>): Array<[string, number]> => {
    const counts: Array<[string, number]> = [];
    try {
      for (const [value, n] of Object.entries(read())) {
        const count = countOf(() => n);
        if (count !== undefined) counts.push([value, count]);
      }
    } catch {
      // No record: none of its series in this scrape.
    }
    return counts;
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
  const lifetimeCounter = (suffix: string, help: string, read: (s: MetricsSnapshot) => number) =>
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
        for (const [name, s] of snapshots()) {
          const n = countOf(() => read(s));
          if (n !== undefined) this.inc(label(name), n);
        }
      },
    });

  /** A counter per value of `labelName`; fixed sets (outcomes, reasons) show every value from the first scrape, at 0. */
  const labelledCounter = (
    suffix: string,
    help: string,
    labelName: string,
    read: (s: MetricsSnapshot) => Record<string, number>,
  ) =>
    new Counter({
      name: `${prefix}${suffix}`,
      help,
      labelNames: withName(labelName),
      registers,
      collect() {
        this.reset();
        for (const [name, s] of snapshots()) {
          for (const [value, n] of entries(() => read(s))) this.inc(label(name, { [labelName]: value }), n);
        }
      },
    });

  if (named.length > 0) {
    metrics.push(
      labelledCounter('calls_total', 'Calls recorded, by outcome.', 'outcome', ({ lifetime }) => ({
        ok: lifetime.ok,
        failed: lifetime.failed,
      })),
      lifetimeCounter(
        'attempts_total',
        'Attempts made by observed retry policies, first calls included.',
        (s) => s.lifetime.attempts,
      ),
      lifetimeCounter('retries_total', 'Retries made by observed retry policies.', (s) => s.lifetime.retries),
      lifetimeCounter(
        'timeouts_total',
        'Timeouts seen by observe: timeout policies, message processor time limits.',
        (s) => s.lifetime.timeouts,
      ),
      lifetimeCounter(
        'transaction_commits_total',
        'Transactions committed by observed transactions() wrappers.',
        (s) => s.lifetime.commits,
      ),
      labelledCounter(
        'messages_dead_lettered_total',
        'Messages set aside by observed message processors, by reason (poison, max_retries_exceeded).',
        'reason',
        (s) => s.lifetime.deadLetters,
      ),
      labelledCounter(
        'transaction_rollbacks_total',
        'Transactions rolled back by observed transactions() wrappers, by reason (network_error, error, outcome_unknown).',
        'reason',
        (s) => s.lifetime.rollbacks,
      ),
      new Counter({
        name: `${prefix}circuit_breaker_opens_total`,
        help: 'Times each circuit breaker opened, by breaker name (at most 32 names per collector; more count as other).',
        // `name` is the breaker's here: with several collectors, the collector is `collector`.
        labelNames: multi ? ['collector', 'name'] : ['name'],
        registers,
        collect() {
          this.reset();
          for (const [collector, s] of snapshots()) {
            for (const [name, n] of entries(() => s.lifetime.breakerOpens)) {
              this.inc(multi ? { collector, name } : { name }, n);
            }
          }
        },
      }),
      labelledCounter(
        'rejections_total',
        'Calls rejected by a policy (open circuit, full bulkhead, rate limit, load shedding), by reason.',
        'reason',
        (s) => s.lifetime.rejections,
      ),
    );
    // Buckets are counted exactly as calls are recorded, one bucket search and three additions each.
    const histogram = new CallHistogram({
      name: `${prefix}call_duration_seconds`,
      help: 'Call durations, recorded as each call settles.',
      labelNames: withName(),
      buckets: [...buckets],
      registers,
    });
    metrics.push(histogram);
    try {
      for (const [name, collector] of named) {
        const observe = histogram.series(label(name));
        const stop = collector.onCall?.((call) => {
          // The sketch's rules: a negative duration (a clock stepped back) is 0; NaN (or an
          // infinite time) is not a duration.
          if (Number.isFinite(call.latencyMs)) observe(Math.max(0, call.latencyMs) / 1_000);
        });
        if (typeof stop === 'function') stops.push(stop);
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
          () => snapshots().map(([name, s]) => [label(name), s] as const),
        ),
      );
    }
  }

  // Breaker names met (cut to MAX_NAME_LENGTH), at most MAX_BREAKER_NAMES: a name past them is `other` from then on.
  const kept = new Set<string>();
  const keptName = (given: string) => {
    // Copied: a slice would keep its whole parent (a host may be kilobytes long) alive.
    // As core cuts: one less rather than keep half a surrogate pair.
    const cut = MAX_NAME_LENGTH - +((given.charCodeAt(MAX_NAME_LENGTH - 1) & 0xfc00) === 0xd800);
    const name = given.length > MAX_NAME_LENGTH ? [...given.slice(0, cut)].join('') : given;
    if (kept.has(name)) return name;
    if (kept.size >= MAX_BREAKER_NAMES) return 'other';
    kept.add(name);
    return name;
  };
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
