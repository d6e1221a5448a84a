export { type Clock, type Random, systemClock, systemRandom, type TimerHandle } from './clock.js';
