// @resilience/node-server (private): the Node http half of @resilience/express and
// @resilience/koa, bundled into each. See README.md for how an adapter uses it.
export { headersOf, isEnded, isHeadersSent, setField } from './accessors.js';
export {
  BODY_DEFAULTS,
  type BodyReader,
  type BodyReaderOptions,
  bodyReader,
  type RequestBody,
  setRequestBody,
} from './body.js';
export {
  type CapturedResponse,
  type ResponseCapture,
  type ResponseCaptureOptions,
  responseCapture,
  UNREPLAYED_HEADERS,
} from './capture.js';
export {
  ClientDisconnectedError,
  isRequestBodyError,
  RequestBodyError,
  type RequestBodyErrorCode,
} from './errors.js';
export { consoleLogger } from './logger.js';
export {
  type AdminCollector,
  type AdminRoute,
  type AdminRoutesOptions,
  type Authorization,
  adminRoute,
} from './middleware/admin-routes.js';
export { errorAnswer, problemAnswer } from './middleware/answer.js';
export { MIDDLEWARE_DEFAULTS } from './middleware/defaults.js';
export { type ErrorHandlerOptions, type ErrorHandling, errorHandling } from './middleware/error-handler.js';
export { type HealthRoute, type HealthRoutesOptions, healthRoute } from './middleware/health-routes.js';
export {
  type IdempotencyOptions,
  type IdempotencyPort,
  type IdempotencyStep,
  idempotencyStep,
  RUN,
} from './middleware/idempotency.js';
export { type LoadSheddingOptions, loadShedder, type Shed } from './middleware/load-shedding.js';
export {
  type MetricsRegistry,
  type MetricsRoute,
  type MetricsRouteOptions,
  metricsRoute,
} from './middleware/metrics-route.js';
export {
  type RateLimitCheck,
  type RateLimitOptions,
  type RateLimitPort,
  rateLimitCheck,
} from './middleware/rate-limit.js';
export { type TimeoutArm, type TimeoutOptions, timeoutArm } from './middleware/timeout.js';
export { refuseFramework } from './middleware/uncalled.js';
export {
  type RequestOutcome,
  type RequestRecord,
  type RequestRecorder,
  type RequestRecorderOptions,
  requestRecorder,
} from './record.js';
export {
  abortRequest,
  requestCorrelationId,
  requestSignal,
  responseError,
  setResponseError,
} from './request-state.js';
export { type Answer, afterBody, clearBodyHeaders, endWith, respondOnce } from './respond-once.js';
export { type GracefulShutdownOptions, SHUTDOWN_DEFAULTS, type ShutdownServer } from './shutdown/options.js';
export { type GracefulShutdown, gracefulShutdown, type ShutdownPhase } from './shutdown/shutdown.js';
