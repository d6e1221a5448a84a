export { type BreakerEvent, CircuitBreakerPolicy, circuitBreaker } from './breaker.js';
export type { Admission as BreakerAdmission, CallOutcome as BreakerCallOutcome } from './machine.js';
export {
  BREAKER_DEFAULTS,
  type BreakerSnapshot,
  type BreakerStateName,
  type BreakerSyncOptions,
  breakerPresets,
  type CircuitBreakerOptions,
  countsAsFailure,
} from './options.js';
export {
  type BreakerInfo,
  BreakerRegistry,
  breakerRegistry,
  type RegisteredBreaker,
  worseBreakerState,
} from './registry.js';
export { type SharedBreakerOptions, SharedCircuitBreaker } from './shared.js';
export {
  type BreakerStrategy,
  type BreakerWindow,
  type BreakerWindowSnapshot,
  type ConsecutiveSnapshot,
  type CountWindowOptions,
  type CountWindowSnapshot,
  consecutive,
  countWindow,
  type RateWindowOptions,
  type TimeWindowOptions,
  type TimeWindowSnapshot,
} from './strategy.js';
export { type BreakerSyncInput, type BreakerSyncOutput, breakerSyncTransition } from './sync-transition.js';
export type { BreakerTally } from './tally.js';
export { TIME_WINDOW_DEFAULTS, timeWindow } from './time-window.js';
export { type BreakerDecision, type BreakerInput, breakerTransition } from './transition.js';
