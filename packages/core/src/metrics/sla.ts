import { type Clock, systemClock } from '../clock/clock.js';
import { type OptionNames, OptionsValidator } from '../errors/validate.js';
import type { MetricsCollector, MetricsSnapshot } from './metrics.js';
import { resolveSlaTargets, type SlaTargets } from './options.js';

/** One figure of an SLA report. */
export interface SlaFigure {
  value: number;
  target: number;
  met: boolean;
}

export interface SlaReport {
  /** `ok / calls` (1 without calls), met when at least the target. */
  availability: SlaFigure;
  /** Window p95 in milliseconds, met when at most the target. */
  p95Ms: SlaFigure;
  /** `failed / calls`, met when at most the target. */
  errorRate: SlaFigure;
  /** Every figure met. */
  met: boolean;
  calls: number;
}

/**
 * Checks `collector.snapshot()` against SLA targets (defaults: `SLA_DEFAULTS`).
 *
 * @example
 * const report = slaReport(stats.snapshot(), { p95Ms: 300 });
 * if (!report.met) console.warn(report);
 */
export function slaReport(snapshot: MetricsSnapshot, targets: SlaTargets = {}): SlaReport {
  const t = resolveSlaTargets(targets, snapshot);
  const availability = snapshot.calls === 0 ? 1 : snapshot.ok / snapshot.calls;
  const figures = {
    availability: { value: availability, target: t.availability, met: availability >= t.availability },
    p95Ms: { value: snapshot.latency.p95, target: t.p95Ms, met: snapshot.latency.p95 <= t.p95Ms },
    errorRate: { value: snapshot.errorRate, target: t.errorRate, met: snapshot.errorRate <= t.errorRate },
  };
  return {
    ...figures,
    met: figures.availability.met && figures.p95Ms.met && figures.errorRate.met,
    calls: snapshot.calls,
  };
}

export interface LatencyQuantileOptions {
  /** Returned while the window holds no latency. @default 1_000 */
  fallbackMs?: number;
  /** How long a computed value is reused before the window is read again, in milliseconds. @default 1_000 */
  refreshMs?: number;
  clock?: Clock;
}

export const LATENCY_QUANTILE_DEFAULTS = { fallbackMs: 1_000, refreshMs: 1_000 } as const;

/** Every option of `latencyQuantile`; any other name is rejected. */
export const LATENCY_QUANTILE_OPTION_NAMES = {
  fallbackMs: true,
  refreshMs: true,
  clock: true,
} as const satisfies OptionNames<LatencyQuantileOptions>;

/**
 * A `() => number` delay source reading a collector's windowed latency quantile, for
 * policies that take one (a hedging delay at p95, an adaptive timeout at p99), cached for
 * `refreshMs`.
 *
 * @example
 * const p95 = latencyQuantile(stats, 0.95, { fallbackMs: 200 });
 * hedge({ delayMs: p95 });
 */
export function latencyQuantile(
  collector: Pick<MetricsCollector, 'quantile'>,
  q: number,
  options: LatencyQuantileOptions = {},
): () => number {
  const v = new OptionsValidator('latencyQuantile');
  v.number('q', q, { min: 0, max: 1 }).required('q', q);
  const o = v.known(options, LATENCY_QUANTILE_OPTION_NAMES);
  v.number('fallbackMs', o.fallbackMs, { min: 0 });
  v.number('refreshMs', o.refreshMs, { min: 0 });
  v.check(typeof collector?.quantile === 'function', 'collector', collector, 'a metrics collector');
  v.clock('clock', o.clock);
  v.done();
  const clock = options.clock ?? systemClock;
  const fallbackMs = options.fallbackMs ?? LATENCY_QUANTILE_DEFAULTS.fallbackMs;
  const refreshMs = options.refreshMs ?? LATENCY_QUANTILE_DEFAULTS.refreshMs;
  let value = fallbackMs;
  let readAt = Number.NEGATIVE_INFINITY;
  return () => {
    const now = clock.now();
    if (now - readAt >= refreshMs || now < readAt) {
      const fresh = collector.quantile(q);
      value = Number.isNaN(fresh) ? fallbackMs : fresh;
      readAt = now;
    }
    return value;
  };
}
