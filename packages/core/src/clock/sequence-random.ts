import type { Random } from './clock.js';

/** A deterministic random source for tests: returns `values` in turn, cycling. */
export function sequenceRandom(...values: number[]): Random {
  const bad = values.findIndex((v) => !(typeof v === 'number' && v >= 0 && v < 1));
  if (values.length === 0 || bad >= 0) {
    const received =
      bad < 0 ? 'none' : `${typeof values[bad] === 'string' ? `"${values[bad]}"` : String(values[bad])} at ${bad}`;
    throw new RangeError(`sequenceRandom needs at least one value, each a number in [0, 1): received ${received}`);
  }
  let i = 0;
  return () => values[i++ % values.length] as number;
}
