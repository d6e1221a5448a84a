export { type Clock, type Random, type TimerHandle, systemClock, systemRandom } from './clock.js';
