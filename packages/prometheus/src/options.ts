import type { CallRecord, MetricsSnapshot, OptionNames, Subscribe } from '@resilience/core';
import { isPlainObject, OptionsValidator } from '@resilience/core/internal';
import type { Registry } from 'prom-client';

/** A `metrics()` collector as seen here: its `snapshot()`, and the calls it records as it records them. */
export interface SnapshotSource {
  snapshot(): MetricsSnapshot;
  /** Feeds the duration histogram; a source without it exports no histogram observations. */
  readonly onCall?: Subscribe<CallRecord>;
}

/** A circuit breaker as seen here: its name and current state. */
export interface BreakerLike {
  readonly name: string;
  readonly state: string;
}

/** Something that lists breakers when asked, as core's `BreakerRegistry` does. */
export interface BreakerSource {
  breakers(): readonly BreakerLike[];
}

/** How much of a limit is in use. */
export interface RateLimitUsage {
  used: number;
  limit: number;
}

/** A rate limiter's usage, read at scrape time. */
export interface RateLimitSource {
  readonly name: string;
  /**
   * How much of the limit is in use now, or a promise of it (awaited during the scrape, as a
   * store-kept limiter's `peek` needs). A source that throws or rejects, or whose `used / limit`
   * is not a ratio (NaN, infinite, negative), is left out of that scrape, as is one that has
   * not settled within `usageTimeoutMs`. A call still pending is not made again: later scrapes
   * wait on it, so a hung store holds one call per source, never one per scrape.
   *
   * @example
   * usage: () => { const d = limiter.peekSync('openai'); return { used: d.limit - d.remaining, limit: d.limit }; }
   */
  usage(): RateLimitUsage | PromiseLike<RateLimitUsage>;
}

/** Collectors by name, read at each scrape: a resilient client's per-host collectors. */
export type CollectorList = () => Record<string, SnapshotSource | undefined>;

export interface ResilienceMetricsOptions {
  /**
   * One collector, several by name (then every series carries a `name` label), or a function
   * returning them by name, read at each scrape (collectors that come and go: a client's hosts).
   * A function's first 32 names keep their series, later ones count as `other`; a collector that
   * leaves or is replaced under its name has its counts kept, so no counter goes back.
   *
   * @example
   * collectors: () => Object.fromEntries(api.client.hosts().map((h) => [h, api.client.host(h)?.metrics]))
   */
  collectors?: SnapshotSource | Record<string, SnapshotSource> | CollectorList;
  /**
   * Breakers whose state is exported as `circuit_state{name,state}`: a list, or a registry
   * such as core's `breakerRegistry`, read at every scrape so breakers created later show up.
   * Breakers sharing a name make one series with the worst state (`worseBreakerState`).
   */
  breakers?: readonly BreakerLike[] | BreakerSource;
  /** Limiters whose usage is exported as `rate_limit_usage_ratio{name}`. */
  rateLimits?: readonly RateLimitSource[];
  /** How long a scrape waits for each `usage()` before leaving it out. @default 1000 */
  usageTimeoutMs?: number;
  /** Prefix of every metric name. @default 'resilience_' */
  prefix?: string;
  /** States listed for every breaker (0 or 1), so a change shows as a flip rather than a gap. @default ['closed', 'open', 'half-open', 'isolated'] (the core breaker's states) */
  breakerStates?: readonly string[];
  /**
   * Upper bounds, in seconds, of the `call_duration_seconds` histogram buckets (`+Inf` is
   * added). Each series costs one line per bucket per collector.
   * @default [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120]
   */
  buckets?: readonly number[];
  /**
   * Also export each collector's window quantiles (p50, p95, p99 from its sketch, within 1 %)
   * as the summary `call_duration_summary_seconds`, with lifetime `_sum` and `_count`.
   * Quantiles cannot be aggregated across instances: alert on them per instance only. @default false
   */
  summary?: boolean;
}

/** Every option `registerResilienceMetrics` takes; any other name is rejected. */
export const RESILIENCE_METRICS_OPTION_NAMES = {
  collectors: true,
  breakers: true,
  rateLimits: true,
  usageTimeoutMs: true,
  prefix: true,
  breakerStates: true,
  buckets: true,
  summary: true,
} as const satisfies OptionNames<ResilienceMetricsOptions>;

export const PROMETHEUS_DEFAULTS = {
  prefix: 'resilience_',
  breakerStates: ['closed', 'open', 'half-open', 'isolated'],
  /**
   * 1–2.5–5 steps from 5 ms (a call inside the data centre, a cache) through 10 s (a slow
   * HTTP call, the README's attempt timeout), then 30 s, 60 s and 120 s for LLM completions,
   * which take seconds to minutes. Fourteen bounds: each bucket spans at most 3×, so a
   * `histogram_quantile` lands within the right order of magnitude at 17 series per collector.
   */
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
  quantiles: [0.5, 0.95, 0.99],
  summary: false,
  usageTimeoutMs: 1_000,
} as const;

export const isSource = (v: unknown): v is SnapshotSource =>
  typeof v === 'object' &&
  v !== null &&
  typeof (v as SnapshotSource).snapshot === 'function' &&
  ((v as SnapshotSource).onCall === undefined || typeof (v as SnapshotSource).onCall === 'function');

const increasing = (v: unknown): boolean =>
  Array.isArray(v) &&
  v.length > 0 &&
  v.every((b, i) => typeof b === 'number' && b > 0 && Number.isFinite(b) && (i === 0 || b > v[i - 1]));

/** The names `registerResilienceMetrics` registers for these options, in its order. */
function plannedNames(
  prefix: string,
  collectors: boolean,
  summary: boolean,
  breakers: unknown,
  rateLimits: unknown,
): string[] {
  const suffixes = collectors
    ? [
        'calls_total',
        'attempts_total',
        'retries_total',
        'timeouts_total',
        'transaction_commits_total',
        'messages_dead_lettered_total',
        'transaction_rollbacks_total',
        'circuit_breaker_opens_total',
        'rejections_total',
        'call_duration_seconds',
        ...(summary ? ['call_duration_summary_seconds'] : []),
      ]
    : [];
  if (!Array.isArray(breakers) || breakers.length > 0) suffixes.push('circuit_state');
  if (Array.isArray(rateLimits) && rateLimits.length > 0) suffixes.push('rate_limit_usage_ratio');
  return suffixes.map((suffix) => prefix + suffix);
}

/** The options resolved: collectors by name (`''` for a single unnamed one), defaults applied. */
export interface ResolvedMetricsOptions {
  named: Array<readonly [string, SnapshotSource]>;
  /** The `collectors` function, when given one (`named` is then empty). */
  list: CollectorList | undefined;
  breakers: readonly BreakerLike[] | BreakerSource;
  rateLimits: readonly RateLimitSource[];
  usageTimeoutMs: number;
  prefix: string;
  breakerStates: readonly string[];
  buckets: readonly number[];
  summary: boolean;
}

/** Throws one `ConfigurationError` naming every bad argument; otherwise applies the defaults. */
export function resolveOptions(registry: Registry, options: ResilienceMetricsOptions): ResolvedMetricsOptions {
  const v = new OptionsValidator('registerResilienceMetrics');
  v.check(
    typeof registry?.registerMetric === 'function',
    'registry',
    registry === undefined ? undefined : typeof registry,
    'a prom-client Registry',
  );
  options = v.known(options, RESILIENCE_METRICS_OPTION_NAMES);
  const { collectors, breakers = [], rateLimits = [] } = options;
  // Anything but a source or a record (a plain object: not an array, whose collectors would be
  // named "0", "1"..., nor a Map, whose entries are not its fields) stays one entry, so the
  // check below names it (null and 5 included).
  const list = typeof collectors === 'function' ? (collectors as CollectorList) : undefined;
  const named =
    collectors === undefined || list !== undefined
      ? []
      : isSource(collectors) || !isPlainObject(collectors)
        ? [['', collectors as SnapshotSource] as const]
        : Object.entries(collectors);
  v.check(
    named.every(([, c]) => isSource(c)),
    'collectors',
    collectors,
    'a collector, a record of collectors (objects with snapshot(), and onCall() if any) or a function returning one',
  );
  v.check(
    Array.isArray(breakers)
      ? breakers.every((b: BreakerLike) => typeof b?.name === 'string' && 'state' in b)
      : typeof (breakers as Partial<BreakerSource>)?.breakers === 'function',
    'breakers',
    breakers,
    'an array of { name, state } or a breaker registry',
  );
  v.check(
    options.breakerStates === undefined ||
      (Array.isArray(options.breakerStates) && options.breakerStates.every((s) => typeof s === 'string')),
    'breakerStates',
    options.breakerStates,
    'an array of state names',
  );
  v.check(
    Array.isArray(rateLimits) &&
      rateLimits.every((r) => typeof r?.usage === 'function' && typeof r.name === 'string' && r.name !== '') &&
      new Set(rateLimits.map((r) => r.name)).size === rateLimits.length,
    'rateLimits',
    rateLimits,
    'an array of { name, usage() }, each with its own non-empty name',
  );
  v.check(
    options.prefix === undefined ||
      (typeof options.prefix === 'string' && /^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(options.prefix)),
    'prefix',
    options.prefix,
    'a Prometheus metric name prefix ([a-zA-Z_:][a-zA-Z0-9_:]*)',
  );
  v.check(
    options.buckets === undefined || increasing(options.buckets),
    'buckets',
    options.buckets,
    'a non-empty array of positive finite seconds in increasing order',
  );
  v.boolean('summary', options.summary);
  v.number('usageTimeoutMs', options.usageTimeoutMs, { gt: 0, max: 2_147_483_647 });
  const prefix = options.prefix ?? PROMETHEUS_DEFAULTS.prefix;
  if (!v.issues.some((i) => i.option === 'registry' || i.option === 'prefix')) {
    // Checked before anything is registered, so a refused call leaves the registry as it was.
    const taken = plannedNames(
      prefix,
      named.length > 0 || list !== undefined,
      options.summary === true,
      breakers,
      rateLimits,
    ).filter((name) => registry.getSingleMetric(name) !== undefined);
    v.check(
      taken.length === 0,
      'registry',
      taken,
      'a registry without these metrics: call unregister() on the earlier registration first (a hot reload too), or give this one another prefix',
    );
  }
  v.done();
  return {
    named,
    list,
    breakers,
    rateLimits,
    usageTimeoutMs: options.usageTimeoutMs ?? PROMETHEUS_DEFAULTS.usageTimeoutMs,
    prefix,
    breakerStates: options.breakerStates ?? PROMETHEUS_DEFAULTS.breakerStates,
    buckets: options.buckets ?? PROMETHEUS_DEFAULTS.buckets,
    summary: options.summary ?? PROMETHEUS_DEFAULTS.summary,
  };
}
