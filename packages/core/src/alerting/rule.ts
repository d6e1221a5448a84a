import type { MetricsSnapshot } from '../metrics/metrics.js';
import { type AlertOp, type Rule, type RuleOptions, validateRule } from './options.js';

/**
 * A validated alert rule. Invalid options throw `ConfigurationError` naming each one.
 *
 * @example
 * rule({ name: 'slow', metric: 'latency.p95', op: 'gt', threshold: 2_000, severity: 'warning', forMs: 60_000 });
 */
export function rule(options: RuleOptions): Rule {
  return validateRule(options);
}

const hasCacheTraffic = (snapshot: object): boolean => {
  const cache = (snapshot as Partial<MetricsSnapshot>).cache;
  return cache !== undefined && cache.hits + cache.misses > 0;
};

/**
 * The rules the seeds shipped with: error rate above 5 % (warning) and above 20 %
 * (critical), p95 above 10 s (warning), cache hit rate below 20 % (warning; only with cache
 * traffic). None has `forMs` or `cooldownMs`.
 */
export function defaultRules(): Rule[] {
  return [
    rule({ name: 'high_error_rate', metric: 'errorRate', op: 'gt', threshold: 0.05, severity: 'warning' }),
    rule({ name: 'critical_error_rate', metric: 'errorRate', op: 'gt', threshold: 0.2, severity: 'critical' }),
    rule({ name: 'slow_p95', metric: 'latency.p95', op: 'gt', threshold: 10_000, severity: 'warning' }),
    rule({
      name: 'low_cache_hit_rate',
      metric: 'cache.hitRate',
      op: 'lt',
      threshold: 0.2,
      severity: 'warning',
      when: hasCacheTraffic,
    }),
  ];
}

/** The number at `path` in `snapshot`, or `NaN` when there is none (a rule never fires on NaN). */
export function readMetric(snapshot: object, path: string): number {
  let value: unknown = snapshot;
  for (const key of path.split('.')) {
    if (typeof value !== 'object' || value === null || !Object.hasOwn(value, key)) return Number.NaN;
    value = (value as Record<string, unknown>)[key];
  }
  return typeof value === 'number' ? value : Number.NaN;
}

export function holds(value: number, op: AlertOp, threshold: number): boolean {
  switch (op) {
    case 'gt':
      return value > threshold;
    case 'gte':
      return value >= threshold;
    case 'lt':
      return value < threshold;
    case 'lte':
      return value <= threshold;
    case 'eq':
      return value === threshold;
  }
}
