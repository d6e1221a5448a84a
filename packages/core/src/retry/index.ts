export { type Backoff, backoff, EXPONENTIAL_DEFAULTS, type ExponentialOptions, type Jitter } from './backoff.js';
export { RETRY_BUDGET_DEFAULTS, RetryBudget, type RetryBudgetOptions } from './budget.js';
export { RETRY_DEFAULTS, type RetryOptions } from './options.js';
export { type RetryPreset, retryPresets } from './presets.js';
export { type GiveUpReason, type RetryEvent, RetryPolicy, type RetryStats, retry } from './retry.js';
