export { type ChaosEvent, ChaosPolicy, chaos } from './chaos.js';
export { CHAOS_DEFAULTS, type ChaosEnabled, type ChaosOptions } from './options.js';
