import type { Random } from './clock.js';

/** A deterministic random source for tests: returns `values` in turn, cycling. */
export function sequenceRandom(...values: number[]): Random {
  if (values.length === 0 || values.some((v) => !(v >= 0 && v < 1))) {
    throw new RangeError('sequenceRandom needs at least one value in [0, 1)');
  }
  let i = 0;
  return () => values[i++ % values.length] as number;
}
