export { FakeClock } from './clock/fake-clock.js';
export { seededRandom } from './clock/seeded-random.js';
export { sequenceRandom } from './clock/sequence-random.js';
export { type FaultInjectorOptions, faultInjector } from './testing/fault-injector.js';
export { jsonRoundTripStore } from './testing/json-round-trip-store.js';
export {
  type ConformanceRunner,
  runStoreConformance,
  type StoreFactory,
  type StoreScenario,
  storeConformanceScenarios,
} from './testing/store-conformance.js';
