// What both adapters export as they are: the names users import from @resilience/express and
// @resilience/koa alike (`export * from '@resilience/node-server/public'` in each).

export { ClientDisconnectedError, RequestBodyError } from './errors.js';
export type { AdminCollector, Authorization } from './middleware/admin-routes.js';
export type { ErrorHandlerOptions } from './middleware/error-handler.js';
export type { HealthRoutesOptions } from './middleware/health-routes.js';
export type { LoadSheddingOptions } from './middleware/load-shedding.js';
export type { MetricsRegistry, MetricsRouteOptions } from './middleware/metrics-route.js';
export type { TimeoutOptions } from './middleware/timeout.js';
export { type GracefulShutdownOptions, SHUTDOWN_DEFAULTS, type ShutdownServer } from './shutdown/options.js';
export { type GracefulShutdown, gracefulShutdown, type ShutdownPhase } from './shutdown/shutdown.js';
