import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../errors/errors.js';
import { RULE_DEFAULTS } from './options.js';
import { defaultRules, holds, readMetric, rule } from './rule.js';

describe('rule', () => {
  it('fills forMs and cooldownMs with their defaults of 0', () => {
    expect(RULE_DEFAULTS).toEqual({ forMs: 0, cooldownMs: 0 });
    const r = rule({ name: 'slow', metric: 'latency.p95', op: 'gt', threshold: 1, severity: 'warning' });
    expect(r).toMatchObject({ forMs: 0, cooldownMs: 0, metric: 'latency.p95' });
    expect(Object.isFrozen(r)).toBe(true);
  });

  it('rejects bad options naming every one', () => {
    const bad = () =>
      rule({
        name: '',
        metric: 'latency..p95',
        op: 'above',
        threshold: Number.NaN,
        severity: 'loud',
        forMs: -1,
      } as never);
    expect(bad).toThrow(ConfigurationError);
    for (const option of ['name', 'metric', 'op', 'threshold', 'severity', 'forMs']) expect(bad).toThrow(option);
  });

  it('has the seeds’ default rules, without forMs or cooldownMs', () => {
    const rules = defaultRules();
    expect(
      rules.map(({ name, metric, op, threshold, severity, forMs, cooldownMs }) => [
        name,
        metric,
        op,
        threshold,
        severity,
        forMs,
        cooldownMs,
      ]),
    ).toEqual([
      ['high_error_rate', 'errorRate', 'gt', 0.05, 'warning', 0, 0],
      ['critical_error_rate', 'errorRate', 'gt', 0.2, 'critical', 0, 0],
      ['slow_p95', 'latency.p95', 'gt', 10_000, 'warning', 0, 0],
      ['low_cache_hit_rate', 'cache.hitRate', 'lt', 0.2, 'warning', 0, 0],
      ['breaker_opened', 'breakerOpens', 'gt', 0, 'warning', 0, 0],
      ['messages_dead_lettered', 'deadLetters', 'gt', 0, 'warning', 0, 0],
      ['high_rollback_rate', 'rollbackRate', 'gt', 0.01, 'warning', 0, 0],
      ['high_timeout_rate', 'timeoutRate', 'gt', 0.05, 'warning', 0, 0],
    ]);
    for (const r of rules) expect(r.description, r.name).toMatch(/^[A-Z].{20,}\.$/);
  });

  it('reads a dot path and gives NaN for a missing or non-numeric metric', () => {
    const snapshot = { latency: { p95: 12 }, name: 'x', proto: Object.create({ inherited: 1 }) };
    expect(readMetric(snapshot, 'latency.p95')).toBe(12);
    expect(readMetric(snapshot, 'latency.p99')).toBeNaN();
    expect(readMetric(snapshot, 'name')).toBeNaN();
    expect(readMetric(snapshot, 'name.length')).toBeNaN();
    expect(readMetric(snapshot, 'proto.inherited')).toBeNaN();
  });

  it('compares with each operator, and never holds on NaN', () => {
    expect([
      holds(2, 'gt', 1),
      holds(1, 'gt', 1),
      holds(1, 'gte', 1),
      holds(0, 'lt', 1),
      holds(1, 'lte', 1),
      holds(1, 'eq', 1),
    ]).toEqual([true, false, true, true, true, true]);
    for (const op of ['gt', 'gte', 'lt', 'lte', 'eq'] as const) expect(holds(Number.NaN, op, 0)).toBe(false);
  });
});
