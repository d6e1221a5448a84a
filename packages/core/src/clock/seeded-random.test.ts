import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../errors/errors.js';
import { seededRandom } from './seeded-random.js';

describe('seededRandom', () => {
  it('repeats its sequence for a seed, and differs between seeds', () => {
    const draw = (seed: number) => {
      const random = seededRandom(seed);
      return Array.from({ length: 5 }, () => random());
    };
    expect(draw(42)).toEqual(draw(42));
    expect(draw(42)).not.toEqual(draw(43));
  });

  it('is uniform enough in [0, 1): every tenth of the range gets its share of 100 000 draws', () => {
    const random = seededRandom(7);
    const bins = new Array<number>(10).fill(0);
    let outside = 0;
    for (let i = 0; i < 100_000; i++) {
      const x = random();
      if (x >= 0 && x < 1) bins[Math.floor(x * 10)]!++;
      else outside++;
    }
    expect(outside).toBe(0);
    for (const count of bins) expect(Math.abs(count - 10_000)).toBeLessThan(500);
  });

  it('rejects a seed that is not an integer, naming seed', () => {
    for (const seed of [1.5, Number.NaN, '1' as never]) {
      expect(() => seededRandom(seed)).toThrow(ConfigurationError);
      expect(() => seededRandom(seed)).toThrow(/seed/);
    }
  });
});
