export {
  ADAPTIVE_LATENCY_DEFAULTS,
  type AdaptiveLatencyOptions,
  type LatencySource,
  type Percentile,
} from './adaptive.js';
export { type CallRecord, type LifetimeTotals, MetricsCollector, type MetricsSnapshot, metrics } from './metrics.js';
export { type Observation, type ObservedRegistry, type ObservedSource, observe } from './observe.js';
export {
  METRICS_DEFAULTS,
  type MetricsOptions,
  RECENT_ERRORS_DEFAULTS,
  type RecentErrorsOptions,
  SLA_DEFAULTS,
  type SlaTargets,
} from './options.js';
export { type RecentError, type RecentErrorContext, RecentErrors, recentErrors } from './recent-errors.js';
export { LatencySketch, type SketchJson, type SketchStorage } from './sketch.js';
export {
  LATENCY_QUANTILE_DEFAULTS,
  type LatencyQuantileOptions,
  latencyQuantile,
  type SlaFigure,
  type SlaReport,
  slaReport,
} from './sla.js';
