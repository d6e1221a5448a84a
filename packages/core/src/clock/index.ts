export { type Clock, type Random, systemClock, systemRandom, type TimerHandle } from './clock.js';
export { CoarseClock, coarseSystemClock } from './coarse-clock.js';
