import type { Scenario } from '../scenario.js';
import { decisionScenarios } from './decisions.js';
import { errorHandlerScenarios } from './errors.js';
import { idempotencyScenarios } from './idempotency.js';
import { idempotencyFingerprintScenarios } from './idempotency-fingerprint.js';
import { idempotencyNestedScenarios } from './idempotency-nested.js';
import { idempotencyTimeoutScenarios } from './idempotency-timeout.js';
import { optionScenarios } from './options.js';
import { rateLimitScenarios } from './rate-limit.js';
import { rateLimitKeyScenarios } from './rate-limit-keys.js';
import { rawHttpScenarios } from './raw-http.js';
import { requestBodyErrorScenarios } from './request-body-errors.js';
import { retryAfterScenarios } from './retry-after.js';
import { routeMatchingScenarios } from './route-matching.js';
import { routeScenarios } from './routes.js';
import { shutdownScenarios } from './shutdown.js';
import { loadSheddingScenarios, timeoutScenarios } from './timeout-shedding.js';

/** Every scenario, by area. */
export const scenarios: readonly Scenario[] = [
  ...rateLimitScenarios,
  ...rateLimitKeyScenarios,
  ...idempotencyScenarios,
  ...idempotencyNestedScenarios,
  ...idempotencyFingerprintScenarios,
  ...idempotencyTimeoutScenarios,
  ...timeoutScenarios,
  ...loadSheddingScenarios,
  ...errorHandlerScenarios,
  ...requestBodyErrorScenarios,
  ...routeScenarios,
  ...routeMatchingScenarios,
  ...shutdownScenarios,
  ...optionScenarios,
  ...decisionScenarios,
  ...rawHttpScenarios,
  ...retryAfterScenarios,
];
