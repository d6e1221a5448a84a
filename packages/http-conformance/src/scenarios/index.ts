import type { Scenario } from '../scenario.js';
import { idempotencyScenarios } from './idempotency.js';
import { rateLimitScenarios } from './rate-limit.js';

/** Every scenario, by area. */
export const scenarios: readonly Scenario[] = [...rateLimitScenarios, ...idempotencyScenarios];
