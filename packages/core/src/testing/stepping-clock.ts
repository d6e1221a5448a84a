import type { Clock } from '../clock/clock.js';
import { FakeClock } from '../clock/fake-clock.js';

/**
 * A FakeClock whose wall time can be stepped (an NTP correction) while its timers keep
 * real, monotonic time, as Node's do (internal: not exported).
 */
export function steppingClock(startMs = 1_700_000_000_000) {
  const fake = new FakeClock(startMs);
  let offset = 0;
  const clock: Clock = {
    now: () => fake.now() + offset,
    sleep: (ms, signal) => fake.sleep(ms, signal),
    setTimeout: (callback, ms) => fake.setTimeout(callback, ms),
    clearTimeout: (handle) => fake.clearTimeout(handle),
  };
  return {
    clock,
    advance: (ms: number) => fake.advance(ms),
    /** Moves the wall time by `ms` (negative: back) without firing or delaying any timer. */
    step: (ms: number) => {
      offset += ms;
    },
  };
}
