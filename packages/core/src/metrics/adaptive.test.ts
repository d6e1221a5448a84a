import { describe, expect, it } from 'vitest';
import { OptionsValidator } from '../errors/validate.js';
import {
  ADAPTIVE_LATENCY_DEFAULTS,
  AdaptiveLatency,
  PERCENTILE_ALLOWED,
  parsePercentile,
  resolveAdaptive,
} from './adaptive.js';

const learner = (options: Parameters<typeof resolveAdaptive>[4] = {}, q = 0.5) =>
  new AdaptiveLatency(resolveAdaptive(new OptionsValidator('test'), q, 0, Number.POSITIVE_INFINITY, options));

describe('adaptive latency', () => {
  it('pins its defaults', () => {
    expect(ADAPTIVE_LATENCY_DEFAULTS).toEqual({
      minSamples: 100,
      windowMs: 60_000,
      refreshMs: 1_000,
      refreshCalls: 1_000,
    });
  });

  it('parses percentiles from pN to pNN.NN strictly between 0 and 100', () => {
    expect(parsePercentile('p50')).toBe(0.5);
    expect(parsePercentile('p95')).toBe(0.95);
    expect(parsePercentile('p99.9')).toBe(0.999);
    expect(parsePercentile('p99.99')).toBe(0.9999);
    expect(parsePercentile('p5')).toBe(0.05);
    for (const bad of ['p0', 'p100', 'p99.999', 'fast', 'p', '95', 'P95', 'p-5', ' p95', 'p95 ', 95, undefined]) {
      expect(parsePercentile(bad)).toBeUndefined();
    }
  });

  it('names in its refusal the forms it parses: one or two digits, up to two decimals', () => {
    // 'p5' and 'p99.99' parse, so a refusal that said "'pNN' or 'pNN.N'" sent a user who
    // wrote 'p99.999' to 'p99.9' when 'p99.99' was allowed.
    const refusal = () => new OptionsValidator('timeout').check(false, 'ms', 'p99.999', PERCENTILE_ALLOWED).done();
    expect(refusal).toThrow("expected a percentile string 'pN' to 'pNN.NN' between 'p0' and 'p100' exclusive");
  });

  it('forgets latencies older than windowMs', () => {
    const l = learner({ minSamples: 3, windowMs: 4_000, refreshCalls: 1 }, 0.9);
    for (let t = 0; t < 3; t++) l.record(500, t);
    expect(l.value(10)).toBe(500);
    for (let t = 3_000; t < 3_003; t++) l.record(20, t);
    expect(l.value(3_010)).toBeCloseTo(500, -1); // p90 of 500 ×3 and 20 ×3 (within the sketch's 1 %)
    expect(l.value(4_500)).toBe(20); // the 500 ms latencies (sub-window 0) have left the window
    expect(l.value(7_500)).toBeNaN(); // everything expired: back to no data
  });

  it('forgets everything ahead of a clock that stepped back', () => {
    const l = learner({ minSamples: 1, windowMs: 4_000, refreshCalls: 1 });
    l.record(100, 10_000);
    expect(l.value(10_000)).toBe(100);
    expect(l.value(5_000)).toBeNaN();
  });

  it('keeps its value between refreshes and counts the recomputations', () => {
    const l = learner({ minSamples: 1, refreshCalls: 3, refreshMs: 1_000 });
    l.record(100, 0);
    expect(l.value(0)).toBe(100);
    l.record(900, 1);
    l.record(900, 2);
    expect(l.value(2)).toBe(100); // cached
    expect(l.value(3)).toBe(100); // cached
    expect(l.value(4)).toBe(900); // third read since the refresh
    expect(l.refreshes).toBe(2);
  });
});
