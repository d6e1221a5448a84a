export { type FallbackEvent, FallbackPolicy, type FallbackValue, fallback } from './fallback.js';
export { FALLBACK_DEFAULTS, type FallbackOptions } from './options.js';
