import { show } from '../errors/errors.js';
import { OptionsValidator } from '../errors/validate.js';

/**
 * A log-bucketed quantile sketch in the manner of DDSketch (Masson, Rim & Lee, VLDB 2019):
 * a value `v` goes to bucket `ceil(log_γ v)` with `γ = (1 + α) / (1 − α)`, so every value in
 * a bucket lies within a relative distance `α` of the bucket's representative. Recording is a
 * logarithm and an array increment; memory is one fixed array; two sketches merge exactly by
 * adding their arrays.
 */

/** Relative accuracy of every quantile: the answer is within 1 % of the exact value. */
export const SKETCH_RELATIVE_ACCURACY = 0.01;
/** Smallest value told apart from zero (1 µs when values are milliseconds). Smaller values count as zero. */
export const SKETCH_MIN_VALUE = 1e-3;
/** Largest value kept at full accuracy (about 27.8 hours in milliseconds); larger ones fall in the top bucket. */
export const SKETCH_MAX_VALUE = 1e8;

// The bucket geometry, from the three constants above: with γ = (1 + α) / (1 − α), bucket `i`
// holds the values in (γ^(i + KEY_OFFSET − 1), γ^(i + KEY_OFFSET)]. Written as the numbers the
// formulas give, which the test recomputes: arithmetic at module level runs at import, so it
// would stay in every bundle of the package, sketches used or not.
// @internal ln γ.
export const LN_GAMMA = 0.020000666706669435;
// @internal 1 / ln γ, so that log_γ v = ln v · MULTIPLIER.
export const MULTIPLIER = 49.99833328888678;
// @internal ⌈log_γ SKETCH_MIN_VALUE⌉: bucket 0 starts just above the smallest value told apart from zero.
export const KEY_OFFSET = -345;
/**
 * Number of buckets, ⌈log_γ SKETCH_MAX_VALUE⌉ − KEY_OFFSET + 2: 1 269 for the range and
 * accuracy above. The last holds only values above the range, so a value within it keeps its accuracy.
 */
export const SKETCH_BUCKETS = 1_269;
// @internal 2 / (1 + γ): a bucket's upper bound times this lies equally far (relatively) from both its bounds.
export const REPRESENTATIVE_FACTOR = 0.9900000000000001;

/** The value reported for bucket `index`: equidistant (relatively) from both bucket bounds. */
const representative = (index: number): number => Math.exp((index + KEY_OFFSET) * LN_GAMMA) * REPRESENTATIVE_FACTOR;

/** How a sketch stores its counts: `'float64'` up to 2^53 per bucket, `'uint32'` in half the memory up to 2^32 − 1. */
export type SketchStorage = 'float64' | 'uint32';
const STORAGES: readonly SketchStorage[] = ['float64', 'uint32'];

/** The JSON form of a sketch: sparse buckets as `[index, count]` pairs. */
export interface SketchJson {
  readonly count: number;
  readonly zeros: number;
  readonly sum: number;
  readonly min: number;
  readonly max: number;
  readonly buckets: ReadonlyArray<readonly [number, number]>;
}

/**
 * A quantile sketch within 1 % of the exact value (`add(ms)`, `quantile(0.95)`), in one array of
 * {@link SKETCH_BUCKETS} counts: 10 152 bytes with `'float64'` storage, 5 076 with `'uint32'`.
 */
export class LatencySketch {
  readonly #counts: Float64Array | Uint32Array;
  #zeros = 0;
  #count = 0;
  #sum = 0;
  #min = Number.POSITIVE_INFINITY;
  #max = Number.NEGATIVE_INFINITY;

  constructor(storage: SketchStorage = 'float64') {
    if (storage !== 'float64' && storage !== 'uint32') {
      new OptionsValidator('LatencySketch').oneOf('storage', storage, STORAGES).done();
    }
    this.#counts = storage === 'uint32' ? new Uint32Array(SKETCH_BUCKETS) : new Float64Array(SKETCH_BUCKETS);
  }

  /** Values recorded (NaN is ignored). */
  get count(): number {
    return this.#count;
  }

  /** Sum of the values recorded. */
  get sum(): number {
    return this.#sum;
  }

  /** Smallest value recorded, exact (`NaN` when empty). */
  get min(): number {
    return this.#count === 0 ? Number.NaN : this.#min;
  }

  /** Largest value recorded, exact (`NaN` when empty). */
  get max(): number {
    return this.#count === 0 ? Number.NaN : this.#max;
  }

  /** Records one value in O(1). Values at or below {@link SKETCH_MIN_VALUE} count as zero; negative values are recorded as 0. */
  add(value: number): void {
    if (typeof value !== 'number')
      throw new TypeError(`LatencySketch.add: expected a number, received ${typeof value}`);
    if (!(value < Number.POSITIVE_INFINITY)) return; // NaN, Infinity: no latency was measured
    if (value > SKETCH_MIN_VALUE) {
      const index = Math.ceil(Math.log(value) * MULTIPLIER) - KEY_OFFSET;
      this.#counts[Math.min(index, SKETCH_BUCKETS - 1)]!++;
    } else {
      this.#zeros++;
      if (value < 0) value = 0; // a latency cannot be negative (a clock stepped back)
    }
    this.#count++;
    this.#sum += value;
    if (value > this.#max) this.#max = value;
    if (value < this.#min) this.#min = value;
  }

  /**
   * The value at quantile `q` (0 ≤ q ≤ 1): within 1 % of the exact value at rank
   * `floor(q × (count − 1))` of the sorted values, and clamped to the exact min and max.
   * `NaN` when empty.
   */
  quantile(q: number): number {
    return quantileOf([this], q);
  }

  /** Adds every count of `other` into this sketch. Exact: the result equals one sketch fed both streams. */
  merge(other: LatencySketch): this {
    const mine = this.#counts;
    const theirs = other.#counts;
    for (let i = 0; i < SKETCH_BUCKETS; i++) mine[i]! += theirs[i]!;
    this.#zeros += other.#zeros;
    this.#count += other.#count;
    this.#sum += other.#sum;
    if (other.#max > this.#max) this.#max = other.#max;
    if (other.#min < this.#min) this.#min = other.#min;
    return this;
  }

  /** Forgets every value. */
  clear(): void {
    this.#counts.fill(0);
    this.#zeros = 0;
    this.#count = 0;
    this.#sum = 0;
    this.#min = Number.POSITIVE_INFINITY;
    this.#max = Number.NEGATIVE_INFINITY;
  }

  /** A compact JSON form (non-empty buckets only), so sketches from other processes can be merged. */
  toJSON(): SketchJson {
    const buckets: Array<readonly [number, number]> = [];
    const counts = this.#counts;
    for (let i = 0; i < SKETCH_BUCKETS; i++) if (counts[i] !== 0) buckets.push([i, counts[i]!]);
    return { count: this.#count, zeros: this.#zeros, sum: this.#sum, min: this.min, max: this.max, buckets };
  }

  /** Rebuilds a sketch from {@link LatencySketch.toJSON}'s output; a `TypeError` names a field it could not have written. */
  static fromJSON(json: SketchJson, storage: SketchStorage = 'float64'): LatencySketch {
    const sketch = new LatencySketch(storage);
    const counts = sketch.#counts;
    const most = storage === 'uint32' ? 0xffffffff : Number.MAX_SAFE_INTEGER;
    // Read from outside (a store, a file): checked whole, in at most SKETCH_BUCKETS steps.
    const check = (ok: unknown, field: string, v: unknown, allowed = `an integer from 0 to ${most}`) => {
      if (!ok) throw new TypeError(`LatencySketch.fromJSON: ${field} must be ${allowed}, received ${show(v)}`);
    };
    const isCount = (n: unknown, max = most) => Number.isSafeInteger(n) && (n as number) >= 0 && (n as number) <= max;
    check(typeof json === 'object' && json && !Array.isArray(json), 'json', json, 'a sketch from toJSON()');
    const { count, zeros, sum, min, max, buckets } = json;
    check(isCount(count, Number.MAX_SAFE_INTEGER), 'count', count, 'an integer >= 0');
    check(isCount(zeros, count), 'zeros', zeros, 'an integer from 0 to count');
    check(typeof sum === 'number' && sum >= 0, 'sum', sum, 'a number >= 0');
    check(!count || (typeof min === 'number' && min >= 0), 'min', min, 'a number >= 0');
    check(
      !count || (typeof max === 'number' && max >= min && max < Number.POSITIVE_INFINITY),
      'max',
      max,
      'a finite number >= min',
    );
    check(
      Array.isArray(buckets) && buckets.length <= SKETCH_BUCKETS,
      'buckets',
      buckets,
      `at most ${SKETCH_BUCKETS} pairs`,
    );
    let total = zeros;
    buckets.forEach((pair, b) => {
      check(Array.isArray(pair) && pair.length === 2, `buckets[${b}]`, pair, 'an [index, count] pair');
      const [index, n] = pair;
      check(isCount(index, SKETCH_BUCKETS - 1) && !counts[index], `buckets[${b}][0]`, index, 'a bucket index, once');
      check(isCount(n), `buckets[${b}][1]`, n);
      counts[index] = n;
      total += n;
    });
    check(total === count, 'count', count, `zeros plus the bucket counts (${total})`);
    sketch.#zeros = zeros;
    sketch.#count = count;
    sketch.#sum = sum;
    if (count > 0) {
      sketch.#min = min;
      sketch.#max = max;
    }
    return sketch;
  }

  // @internal Used by {@link quantileOf} to read several sketches as one without merging.
  static read(sketch: LatencySketch): {
    counts: ArrayLike<number>;
    zeros: number;
    count: number;
    min: number;
    max: number;
  } {
    return { counts: sketch.#counts, zeros: sketch.#zeros, count: sketch.#count, min: sketch.#min, max: sketch.#max };
  }
}

/**
 * The quantile `q` of several sketches taken together, as if merged, without allocating a
 * merged copy (a metrics collector reads its sub-window sketches this way).
 */
export function quantileOf(sketches: readonly LatencySketch[], q: number): number {
  const parts = sketches.map(LatencySketch.read);
  let count = 0;
  let zeros = 0;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const p of parts) {
    count += p.count;
    zeros += p.zeros;
    if (p.min < min) min = p.min;
    if (p.max > max) max = p.max;
  }
  if (count === 0 || !(q >= 0 && q <= 1)) return Number.NaN;
  const rank = Math.floor(q * (count - 1));
  let value = max;
  if (rank < zeros) value = 0;
  else {
    let seen = zeros;
    for (let i = 0; i < SKETCH_BUCKETS; i++) {
      for (const p of parts) seen += p.counts[i]!;
      if (seen > rank) {
        // The top bucket has no upper bound: its values are best described by the exact max.
        value = i === SKETCH_BUCKETS - 1 ? max : representative(i);
        break;
      }
    }
  }
  return Math.min(Math.max(value, min), max);
}
