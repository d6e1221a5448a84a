export { type AdaptiveLimit, type AdaptiveLimitState, adaptiveLimit, type RttSample } from './adaptive-limit.js';
export { ADAPTIVE_LIMIT_DEFAULTS, type AdaptiveLimitOptions } from './options.js';
