export { FakeClock } from './clock/fake-clock.js';
export { sequenceRandom } from './clock/sequence-random.js';
export { faultInjector, type FaultInjectorOptions } from './testing/fault-injector.js';
