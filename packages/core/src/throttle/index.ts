export { type AdaptiveThrottleOptions, THROTTLE_DEFAULTS } from './options.js';
export { type ThrottleDecision, type ThrottleInput, type ThrottleState, throttleTransition } from './state.js';
export { AdaptiveThrottlePolicy, adaptiveThrottle, type ThrottleEvent, type ThrottleStats } from './throttle.js';
