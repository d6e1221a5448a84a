import type { MetricsSnapshot } from '@resilience/core';
import { OptionsValidator, worseBreakerState } from '@resilience/core';
import { Counter, Gauge, type Registry } from 'prom-client';

/** Anything with a metrics `snapshot()`: a `metrics()` collector. */
export interface SnapshotSource {
  snapshot(): MetricsSnapshot;
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

/** A rate limiter's usage, read at scrape time. */
export interface RateLimitSource {
  readonly name: string;
  /** How much of the limit is in use now. */
  usage(): { used: number; limit: number };
}

export interface ResilienceMetricsOptions {
  /** One collector, or several by name (then every series carries a `name` label). */
  collectors?: SnapshotSource | Record<string, SnapshotSource>;
  /**
   * Breakers whose state is exported as `circuit_state{name,state}`: a list, or a registry
   * such as core's `breakerRegistry`, read at every scrape so breakers created later show up.
   * Breakers sharing a name make one series with the worst state (`worseBreakerState`).
   */
  breakers?: readonly BreakerLike[] | BreakerSource;
  /** Limiters whose usage is exported as `rate_limit_usage_ratio{name}`. */
  rateLimits?: readonly RateLimitSource[];
  /** Prefix of every metric name. @default 'resilience_' */
  prefix?: string;
  /** States listed for every breaker (0 or 1), so a change shows as a flip rather than a gap. @default ['closed', 'open', 'half-open', 'isolated'] (the core breaker's states) */
  breakerStates?: readonly string[];
}

export const PROMETHEUS_DEFAULTS = {
  prefix: 'resilience_',
  breakerStates: ['closed', 'open', 'half-open', 'isolated'],
  quantiles: [0.5, 0.95, 0.99],
} as const;

/** What {@link registerResilienceMetrics} registered, with a way to remove it again. */
export interface RegisteredMetrics {
  /** Names of the metrics added to the registry. */
  readonly names: readonly string[];
  /** Removes every metric this call registered. */
  unregister(): void;
}

const isSource = (v: unknown): v is SnapshotSource =>
  typeof v === 'object' && v !== null && typeof (v as SnapshotSource).snapshot === 'function';

/**
 * Registers collect-time metrics in a prom-client registry: values are read from the
 * collectors, breakers and limiters when the registry is scraped, so nothing runs between
 * scrapes and no default metrics are added.
 *
 * - `resilience_calls_total{outcome="ok"|"failed"}`, `resilience_attempts_total`, `resilience_retries_total`,
 *   `resilience_timeouts_total`, `resilience_rejections_total{reason}` — counters of lifetime totals
 * - `resilience_call_duration_seconds{quantile="0.5"|"0.95"|"0.99"}` — gauges of the window's latency quantiles
 * - `resilience_circuit_state{name,state}` — 1 for each breaker's current state, 0 for the others
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
  const v = new OptionsValidator('registerResilienceMetrics');
  v.check(
    typeof registry?.registerMetric === 'function',
    'registry',
    registry === undefined ? undefined : typeof registry,
    'a prom-client Registry',
  );
  const { collectors, breakers = [], rateLimits = [] } = options;
  const named =
    collectors === undefined ? [] : isSource(collectors) ? [['', collectors] as const] : Object.entries(collectors);
  v.check(
    named.every(([, c]) => isSource(c)),
    'collectors',
    collectors,
    'a collector or a record of collectors (objects with snapshot())',
  );
  const listed = Array.isArray(breakers);
  v.check(
    listed
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
    Array.isArray(rateLimits) && rateLimits.every((r) => typeof r?.usage === 'function'),
    'rateLimits',
    rateLimits,
    'an array of { name, usage() }',
  );
  v.check(
    options.prefix === undefined || /^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(options.prefix),
    'prefix',
    options.prefix,
    'a Prometheus metric name prefix ([a-zA-Z_:][a-zA-Z0-9_:]*)',
  );
  v.done();

  const prefix = options.prefix ?? PROMETHEUS_DEFAULTS.prefix;
  const states = options.breakerStates ?? PROMETHEUS_DEFAULTS.breakerStates;
  const multi = named.length > 1 || (named.length === 1 && named[0]![0] !== '');
  const withName = <L extends string>(...labels: L[]): Array<L | 'name'> => (multi ? ['name', ...labels] : labels);
  const label = (name: string, rest: Record<string, string> = {}) => (multi ? { name, ...rest } : rest);

  // Every collect() of one scrape runs in the same turn; one snapshot per collector serves them all.
  let cached: Array<readonly [string, MetricsSnapshot]> | undefined;
  const snapshots = () => {
    if (!cached) {
      cached = named.map(([name, c]) => [name, c.snapshot()] as const);
      queueMicrotask(() => {
        cached = undefined;
      });
    }
    return cached;
  };

  const registers = [registry];
  const metrics: Array<Counter<string> | Gauge<string>> = [];
  if (named.length > 0) {
    metrics.push(
      new Counter({
        name: `${prefix}calls_total`,
        help: 'Calls recorded, by outcome.',
        labelNames: withName('outcome'),
        registers,
        collect() {
          this.reset();
          for (const [name, s] of snapshots()) {
            this.inc(label(name, { outcome: 'ok' }), s.lifetime.ok);
            this.inc(label(name, { outcome: 'failed' }), s.lifetime.failed);
          }
        },
      }),
      new Counter({
        name: `${prefix}attempts_total`,
        help: 'Attempts made by observed retry policies, first calls included.',
        labelNames: withName(),
        registers,
        collect() {
          this.reset();
          for (const [name, s] of snapshots()) this.inc(label(name), s.lifetime.attempts);
        },
      }),
      new Counter({
        name: `${prefix}retries_total`,
        help: 'Retries made by observed retry policies.',
        labelNames: withName(),
        registers,
        collect() {
          this.reset();
          for (const [name, s] of snapshots()) this.inc(label(name), s.lifetime.retries);
        },
      }),
      new Counter({
        name: `${prefix}timeouts_total`,
        help: 'Calls cut short by observed timeout policies.',
        labelNames: withName(),
        registers,
        collect() {
          this.reset();
          for (const [name, s] of snapshots()) this.inc(label(name), s.lifetime.timeouts);
        },
      }),
      new Counter({
        name: `${prefix}rejections_total`,
        help: 'Calls rejected by a policy (open circuit, full bulkhead, rate limit), by reason.',
        labelNames: withName('reason'),
        registers,
        collect() {
          this.reset();
          for (const [name, s] of snapshots()) {
            for (const [reason, n] of Object.entries(s.lifetime.rejections)) this.inc(label(name, { reason }), n);
          }
        },
      }),
      new Gauge({
        name: `${prefix}call_duration_seconds`,
        help: 'Call latency quantiles over the collector window (within 1 % relative error).',
        labelNames: withName('quantile'),
        registers,
        collect() {
          this.reset();
          for (const [name, s] of snapshots()) {
            if (s.calls === 0) continue;
            const { p50, p95, p99 } = s.latency;
            this.set(label(name, { quantile: '0.5' }), p50 / 1_000);
            this.set(label(name, { quantile: '0.95' }), p95 / 1_000);
            this.set(label(name, { quantile: '0.99' }), p99 / 1_000);
          }
        },
      }),
    );
  }
  const breakerList = listed ? () => breakers as readonly BreakerLike[] : () => (breakers as BreakerSource).breakers();
  if (!listed || (breakers as readonly BreakerLike[]).length > 0) {
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
          for (const { name, state } of breakerList()) {
            const seen = byName.get(name);
            byName.set(name, seen === undefined ? String(state) : worseBreakerState(seen, String(state)));
          }
          for (const [name, current] of byName) {
            for (const state of states) this.set({ name, state }, state === current ? 1 : 0);
            if (!states.includes(current)) this.set({ name, state: current }, 1);
          }
        },
      }),
    );
  }
  if (rateLimits.length > 0) {
    metrics.push(
      new Gauge({
        name: `${prefix}rate_limit_usage_ratio`,
        help: 'Share of a rate limit in use (used / limit).',
        labelNames: ['name'],
        registers,
        collect() {
          this.reset();
          for (const limiter of rateLimits) {
            const { used, limit } = limiter.usage();
            if (limit > 0) this.set({ name: limiter.name }, used / limit);
          }
        },
      }),
    );
  }
  const names = metrics.map((m) => (m as unknown as { name: string }).name);
  return {
    names,
    unregister() {
      for (const name of names) registry.removeSingleMetric(name);
    },
  };
}
