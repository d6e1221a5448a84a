import type { Scenario } from '../scenario.js';
import { rateLimitScenarios } from './rate-limit.js';

/** Every scenario, by area. */
export const scenarios: readonly Scenario[] = [...rateLimitScenarios];
