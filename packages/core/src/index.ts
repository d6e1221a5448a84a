// The public face of @resilience/core: each capability's index.ts, in DESIGN.md's order.

export * from './alerting/index.js';
export * from './breaker/index.js';
export * from './bulkhead/index.js';
export * from './chaos/index.js';
export * from './client/index.js';
export * from './clock/index.js';
export * from './config/index.js';
export * from './errors/index.js';
export * from './events/index.js';
export * from './fallback/index.js';
export * from './health/index.js';
export * from './hedging/index.js';
export * from './idempotency/index.js';
export * from './logging/index.js';
export * from './messages/index.js';
export * from './metrics/index.js';
export * from './pipeline/index.js';
export * from './policy/index.js';
export * from './ratelimit/index.js';
export * from './retry/index.js';
export * from './saga/index.js';
export * from './store/index.js';
export * from './throttle/index.js';
export * from './timeout/index.js';
export * from './transaction/index.js';
