import type { HostPolicies as Host } from './hosts.js';

export {
  type ClientAttempt,
  type ClientCall,
  type ClientEvent,
  type ClientTransport,
  ResilientClient,
  resilientClient,
} from './client.js';
export {
  hostKeyOf,
  IDEMPOTENCY_KEY_HEADER,
  IDEMPOTENT_METHODS,
  isIdempotentRequest,
  isRetryableFailure,
  isRetryableStatus,
  KEYED_METHODS,
  RETRYABLE_STATUSES,
} from './decisions.js';
export { type ClientDetails, resilienceDetails } from './details.js';
// An alias: re-exported as is, the bundled declarations export the class as a value.
export type HostPolicies = Host;
export { HttpStatusError } from './http-status-error.js';
export {
  CLIENT_DEFAULTS,
  type ClientOptions,
  type ClientRateLimitOptions,
  type ClientRetryOptions,
  type ClientTimeoutOptions,
} from './options.js';
