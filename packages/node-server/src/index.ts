// @resilience/node-server (private): the Node http half of @resilience/express and
// @resilience/koa, bundled into each. See README.md for how an adapter uses it.
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
export {
  type RequestOutcome,
  type RequestRecord,
  type RequestRecorder,
  type RequestRecorderOptions,
  requestRecorder,
} from './record.js';
export { abortRequest, requestSignal, responseError, setResponseError } from './request-state.js';
export { type Answer, respondOnce } from './respond-once.js';
export { type GracefulShutdownOptions, SHUTDOWN_DEFAULTS, type ShutdownServer } from './shutdown/options.js';
export { type GracefulShutdown, gracefulShutdown, type ShutdownPhase } from './shutdown/shutdown.js';
