import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  KEY_OFFSET,
  LatencySketch,
  LN_GAMMA,
  MULTIPLIER,
  quantileOf,
  REPRESENTATIVE_FACTOR,
  SKETCH_BUCKETS,
  SKETCH_MAX_VALUE,
  SKETCH_MIN_VALUE,
  SKETCH_RELATIVE_ACCURACY,
} from './sketch.js';

const exact = (sorted: number[], q: number) => sorted[Math.floor(q * (sorted.length - 1))]!;
const relativeError = (got: number, want: number) => Math.abs(got - want) / want;
// 1 % plus floating-point slack at bucket boundaries.
const BOUND = 0.01 + 1e-12;

describe('LatencySketch', () => {
  it('keeps p50, p95 and p99 within 1 % of the exact percentiles (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: SKETCH_MIN_VALUE * 1.001, max: SKETCH_MAX_VALUE, noNaN: true }), {
          minLength: 1,
          maxLength: 2_000,
        }),
        fc.constantFrom(0, 0.5, 0.95, 0.99, 1),
        (values, q) => {
          const sketch = new LatencySketch();
          for (const v of values) sketch.add(v);
          const sorted = [...values].sort((a, b) => a - b);
          expect(relativeError(sketch.quantile(q), exact(sorted, q))).toBeLessThanOrEqual(BOUND);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('keeps the 1 % bound on a heavy-tailed latency distribution of 100 000 values', () => {
    const values: number[] = [];
    let seed = 7;
    const rand = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) + 0.5) / 2 ** 31;
    for (let i = 0; i < 100_000; i++)
      values.push(Math.exp(3 + 1.5 * Math.sqrt(-2 * Math.log(rand())) * Math.cos(6.283 * rand())));
    const sketch = new LatencySketch('uint32');
    for (const v of values) sketch.add(v);
    const sorted = values.sort((a, b) => a - b);
    for (const q of [0.5, 0.95, 0.99])
      expect(relativeError(sketch.quantile(q), exact(sorted, q))).toBeLessThanOrEqual(BOUND);
  });

  it('merges exactly: two halves merged answer like one sketch of everything (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0, max: 1e6, noNaN: true })),
        fc.array(fc.double({ min: 0, max: 1e6, noNaN: true })),
        (left, right) => {
          const a = new LatencySketch();
          const b = new LatencySketch('uint32');
          const whole = new LatencySketch();
          for (const v of left) {
            a.add(v);
            whole.add(v);
          }
          for (const v of right) {
            b.add(v);
            whole.add(v);
          }
          a.merge(b);
          const { sum: mergedSum, ...merged } = a.toJSON();
          const { sum: wholeSum, ...expected } = whole.toJSON();
          expect(merged).toEqual(expected);
          expect(mergedSum).toBeCloseTo(wholeSum, 6);
          for (const q of [0.5, 0.99]) expect(quantileOf([whole], q)).toBe(a.quantile(q));
        },
      ),
    );
  });

  it('reads several sketches as one without merging them', () => {
    const a = new LatencySketch();
    const b = new LatencySketch();
    for (let i = 1; i <= 100; i++) (i % 2 ? a : b).add(i);
    const merged = new LatencySketch().merge(a).merge(b);
    for (const q of [0, 0.5, 0.95, 1]) expect(quantileOf([a, b], q)).toBe(merged.quantile(q));
  });

  it('reports the exact min and max at quantiles 0 and 1', () => {
    const sketch = new LatencySketch();
    for (const v of [3.3, 7, 12.5, 1_000.25]) sketch.add(v);
    expect(sketch.quantile(0)).toBe(3.3);
    expect(sketch.quantile(1)).toBe(1_000.25);
    expect(sketch.min).toBe(3.3);
    expect(sketch.max).toBe(1_000.25);
    expect(sketch.sum).toBeCloseTo(1_023.05);
  });

  it('counts zero, negative and sub-microsecond values as zero and ignores NaN', () => {
    const sketch = new LatencySketch();
    for (const v of [0, -5, 1e-4, Number.NaN, 10]) sketch.add(v);
    expect(sketch.count).toBe(4);
    expect(sketch.min).toBe(0);
    expect(sketch.sum).toBeCloseTo(10.0001);
    expect(sketch.quantile(0.5)).toBe(0);
    expect(sketch.quantile(1)).toBe(10);
  });

  it('puts values beyond the tracked range in the top bucket and still reports the exact max', () => {
    const sketch = new LatencySketch();
    sketch.add(SKETCH_MAX_VALUE * 10);
    sketch.add(SKETCH_MAX_VALUE * 100);
    expect(sketch.quantile(1)).toBe(SKETCH_MAX_VALUE * 100);
    expect(sketch.toJSON().buckets).toEqual([[SKETCH_BUCKETS - 1, 2]]);
  });

  it('keeps values up to SKETCH_MAX_VALUE within 1 % beside one far above the range (only those share the top bucket)', () => {
    const sketch = new LatencySketch();
    for (const v of [99_995_000, 99_999_000, SKETCH_MAX_VALUE]) sketch.add(v);
    sketch.add(SKETCH_MAX_VALUE * 5_000);
    expect(Math.abs(sketch.quantile(0.5) / 99_999_000 - 1)).toBeLessThanOrEqual(SKETCH_RELATIVE_ACCURACY);
    expect(Math.abs(sketch.quantile(0.75) / SKETCH_MAX_VALUE - 1)).toBeLessThanOrEqual(SKETCH_RELATIVE_ACCURACY);
    expect(sketch.quantile(1)).toBe(SKETCH_MAX_VALUE * 5_000);
  });

  it('answers NaN when empty or for a quantile outside [0, 1]', () => {
    const sketch = new LatencySketch();
    expect(sketch.quantile(0.5)).toBeNaN();
    expect(sketch.min).toBeNaN();
    sketch.add(1);
    expect(sketch.quantile(1.5)).toBeNaN();
    expect(sketch.quantile(-0.1)).toBeNaN();
  });

  it('round-trips through JSON so sketches from other processes merge', () => {
    const sketch = new LatencySketch();
    for (let i = 1; i <= 500; i++) sketch.add(i * 1.7);
    const copy = LatencySketch.fromJSON(JSON.parse(JSON.stringify(sketch)));
    expect(copy.toJSON()).toEqual(sketch.toJSON());
    expect(copy.quantile(0.95)).toBe(sketch.quantile(0.95));
    expect(LatencySketch.fromJSON(new LatencySketch().toJSON()).count).toBe(0);
  });

  it('refuses JSON that toJSON could not have written with a TypeError naming the field, never a broken sketch', () => {
    const sketch = new LatencySketch();
    for (const v of [0, 10, 20]) sketch.add(v);
    const good = sketch.toJSON();
    const [[a], [b]] = good.buckets as [[number, number], [number, number]];
    const cases: [unknown, RegExp][] = [
      [null, /json must be a sketch from toJSON\(\), received null/],
      [[1, 2], /json must be a sketch from toJSON\(\), received \[1,2\]$/],
      ['{"count":1}', /json must be/],
      [{}, /count must be an integer >= 0, received undefined/],
      [{ ...good, count: '3' }, /count must be an integer >= 0, received "3"/],
      [{ ...good, count: Number.NaN }, /count must be an integer >= 0, received NaN/],
      [{ ...good, count: -1 }, /count must be/],
      [{ ...good, zeros: 4 }, /zeros must be an integer from 0 to count, received 4/],
      [{ ...good, sum: null }, /sum must be a number >= 0, received null/],
      [{ ...good, min: 30 }, /max must be a finite number >= min, received 20$/],
      [{ ...good, min: '0' }, /min must be a number >= 0, received "0"$/],
      [{ ...good, buckets: undefined }, /buckets must be at most 1269 pairs, received undefined/],
      // An attacker-sized array is not read, and shown only in part.
      [
        { ...good, buckets: new Array(1e5).fill([a, 0]) },
        /buckets must be at most 1269 pairs, received \[\[\d+,0\],.{180,}…$/,
      ],
      [
        {
          ...good,
          buckets: [
            [a, 1],
            [1, 2, 3],
          ],
        },
        /buckets\[1\] must be an \[index, count\] pair, received \[1,2,3\]$/,
      ],
      [{ ...good, buckets: [[a, 1], 5] }, /buckets\[1\] must be an \[index, count\] pair, received 5/],
      [
        {
          ...good,
          buckets: [
            [a, 1],
            [SKETCH_BUCKETS, 1],
          ],
        },
        /buckets\[1\]\[0\] must be a bucket index, once/,
      ],
      [
        {
          ...good,
          buckets: [
            [a, 1],
            [a, 1],
          ],
        },
        new RegExp(`buckets\\[1\\]\\[0\\] must be a bucket index, once, received ${a}$`),
      ],
      [
        {
          ...good,
          buckets: [
            [a, 1],
            [b, -1],
          ],
        },
        /buckets\[1\]\[1\] must be an integer from 0 to/,
      ],
      [
        {
          ...good,
          buckets: [
            [a, 1],
            [b, 1.5],
          ],
        },
        /buckets\[1\]\[1\] must be an integer/,
      ],
      [
        {
          ...good,
          buckets: [
            [a, 1],
            [b, 2],
          ],
        },
        /count must be zeros plus the bucket counts \(4\), received 3/,
      ],
    ];
    for (const [json, message] of cases) {
      expect(() => LatencySketch.fromJSON(json as never), String(message)).toThrow(TypeError);
      expect(() => LatencySketch.fromJSON(json as never), String(message)).toThrow(message);
    }
    expect(LatencySketch.fromJSON(JSON.parse(JSON.stringify(good))).toJSON()).toEqual(good);
    // A count a uint32 bucket cannot hold would wrap.
    const big = { count: 2 ** 32, zeros: 0, sum: 2 ** 32, min: 1, max: 1, buckets: [[345, 2 ** 32]] };
    expect(LatencySketch.fromJSON(big as never).count).toBe(2 ** 32);
    expect(() => LatencySketch.fromJSON(big as never, 'uint32')).toThrow(
      /buckets\[0\]\[1\] must be an integer from 0 to 4294967295/,
    );
  });

  it('forgets everything on clear', () => {
    const sketch = new LatencySketch();
    sketch.add(5);
    sketch.clear();
    expect(sketch.count).toBe(0);
    expect(sketch.toJSON().buckets).toEqual([]);
    expect(sketch.quantile(0.5)).toBeNaN();
  });

  it('holds the bucket geometry its accuracy and range give', () => {
    const gamma = (1 + SKETCH_RELATIVE_ACCURACY) / (1 - SKETCH_RELATIVE_ACCURACY);
    expect(LN_GAMMA).toBe(Math.log(gamma));
    expect(MULTIPLIER).toBe(1 / Math.log(gamma));
    expect(KEY_OFFSET).toBe(Math.ceil(Math.log(SKETCH_MIN_VALUE) * MULTIPLIER));
    expect(SKETCH_BUCKETS).toBe(Math.ceil(Math.log(SKETCH_MAX_VALUE) * MULTIPLIER) - KEY_OFFSET + 2);
    expect(REPRESENTATIVE_FACTOR).toBe(2 / (1 + gamma));
  });

  it('uses a fixed number of buckets whatever it records', () => {
    expect(SKETCH_BUCKETS).toBe(1_269);
    expect(SKETCH_BUCKETS * 8).toBeLessThanOrEqual(16 * 1024);
  });
});
