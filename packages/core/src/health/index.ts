export {
  type BreakerLike,
  BULKHEAD_CHECK_DEFAULTS,
  type BulkheadCheckOptions,
  type BulkheadLike,
  breakerCheck,
  bulkheadCheck,
  functionCheck,
} from './checks.js';
export { type HealthCheckResult, HealthRegistry, type HealthReport, health } from './health.js';
export {
  HEALTH_JSON_CONTENT_TYPE,
  type HealthHttpResponse,
  type HealthJson,
  type HealthJsonCheck,
  type HealthJsonOptions,
  healthCacheControl,
  healthHttpStatus,
  healthResponse,
  toHealthJson,
} from './json.js';
export {
  HEALTH_DEFAULTS,
  type HealthCheck,
  type HealthCheckDetail,
  type HealthCheckKind,
  type HealthCheckOptions,
  type HealthCheckStatus,
  type HealthCheckValue,
  type HealthOptions,
  type HealthStartOptions,
  type HealthStatus,
} from './options.js';
