import type { Scenario } from '../scenario.js';
import { errorHandlerScenarios } from './errors.js';
import { idempotencyScenarios } from './idempotency.js';
import { optionScenarios } from './options.js';
import { rateLimitScenarios } from './rate-limit.js';
import { routeScenarios } from './routes.js';
import { shutdownScenarios } from './shutdown.js';
import { loadSheddingScenarios, timeoutScenarios } from './timeout-shedding.js';

/** Every scenario, by area. */
export const scenarios: readonly Scenario[] = [
  ...rateLimitScenarios,
  ...idempotencyScenarios,
  ...timeoutScenarios,
  ...loadSheddingScenarios,
  ...errorHandlerScenarios,
  ...routeScenarios,
  ...shutdownScenarios,
  ...optionScenarios,
];
