import { OptionsValidator } from '../errors/validate.js';
import type { Random } from './clock.js';

/**
 * A seeded random source for tests, examples and chaos experiments: the same seed gives the
 * same sequence on every run (mulberry32, a 32-bit generator; not for cryptography).
 *
 * @example
 * const policy = retry({ backoff: backoff.exponential({ jitter: 'full' }), random: seededRandom(42) });
 */
export function seededRandom(seed: number): Random {
  new OptionsValidator('seededRandom').required('seed', seed).integer('seed', seed).done();
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}
