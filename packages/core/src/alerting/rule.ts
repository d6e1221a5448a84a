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

/** The default alert rules (listed in docs/alerting.md), without `forMs` or `cooldownMs`. */
export function defaultRules(): Rule[] {
  return [
    rule({
      name: 'high_error_rate',
      metric: 'errorRate',
      op: 'gt',
      threshold: 0.05,
      severity: 'warning',
      description: 'More than 5 % of calls failed over the window.',
    }),
    rule({
      name: 'critical_error_rate',
      metric: 'errorRate',
      op: 'gt',
      threshold: 0.2,
      severity: 'critical',
      description: 'More than 20 % of calls failed over the window: a dependency is likely down.',
    }),
    rule({
      name: 'slow_p95',
      metric: 'latency.p95',
      op: 'gt',
      threshold: 10_000,
      severity: 'warning',
      description: 'The 95th percentile call took longer than 10 s over the window.',
    }),
    rule({
      name: 'low_cache_hit_rate',
      metric: 'cache.hitRate',
      op: 'lt',
      threshold: 0.2,
      severity: 'warning',
      when: hasCacheTraffic,
      description: 'Fewer than 20 % of cache lookups hit over the window.',
    }),
    rule({
      name: 'breaker_opened',
      metric: 'breakerOpens',
      op: 'gt',
      threshold: 0,
      severity: 'warning',
      description: 'A circuit breaker opened over the window: its dependency is failing (see lifetime.breakerOpens).',
    }),
    rule({
      name: 'messages_dead_lettered',
      metric: 'deadLetters',
      op: 'gt',
      threshold: 0,
      severity: 'warning',
      description: 'Messages went to the dead-letter queue over the window (see deadLettersByReason).',
    }),
    rule({
      name: 'high_rollback_rate',
      metric: 'rollbackRate',
      op: 'gt',
      threshold: 0.01,
      severity: 'warning',
      description: 'More than 1 % of transactions rolled back over the window (see rollbacksByReason).',
    }),
    rule({
      name: 'high_timeout_rate',
      metric: 'timeoutRate',
      op: 'gt',
      threshold: 0.05,
      severity: 'warning',
      description: 'More than 5 % of calls or attempts timed out over the window.',
    }),
  ];
}

/** The number at `path` in `snapshot`, or `NaN` when there is none (a rule never fires on NaN). */
export function readMetric(snapshot: object, path: string): number {
  let value: unknown = snapshot;
  try {
    for (const key of path.split('.')) {
      if (typeof value !== 'object' || value === null || !Object.hasOwn(value, key)) return Number.NaN;
      value = (value as Record<string, unknown>)[key];
    }
  } catch {
    return Number.NaN; // a getter that throws: no value, and the other rules still run
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
