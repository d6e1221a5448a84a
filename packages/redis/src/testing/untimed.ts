/**
 * The package's entry for the tests, but with `redisStore` timing its operations on a clock
 * that never moves, unless a test gives its own `clock`. With the system clock, a store gives
 * up an answer after `timeoutMs` of real time (200 ms by default): on a loaded machine (CI runs
 * every project at once on two cores) a round trip took longer, and tests about something else
 * failed with "got no answer within 200 ms". Here an answer is waited for, however late, and a
 * Redis that never answers is the test's own timeout. The tests of `timeoutMs` give a FakeClock
 * and move it.
 */
import { FakeClock } from '@resilience/core/testing';
import { type RedisStore, type RedisStoreOptions, redisStore as timed } from '../index.js';

export * from '../index.js';

export function redisStore(options: RedisStoreOptions): RedisStore {
  return timed({ clock: new FakeClock(), ...options });
}
