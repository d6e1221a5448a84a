import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../errors/errors.js';
import { type AdaptiveLimitState, adaptiveLimit } from './adaptive-limit.js';
import { ADAPTIVE_LIMIT_DEFAULTS } from './options.js';

/** Feeds `count` samples of `rttMs`, each `spacingMs` apart, started at `inflight` concurrency. */
function feed(
  algorithm: ReturnType<typeof adaptiveLimit>,
  state: AdaptiveLimitState | undefined,
  from: { now: number },
  count: number,
  rttMs: number | ((limit: number) => number),
  inflight: number | ((limit: number) => number),
  spacingMs = 1,
): AdaptiveLimitState {
  let s = state ?? algorithm.initial(from.now);
  for (let i = 0; i < count; i++) {
    from.now += spacingMs;
    const limit = algorithm.limitOf(s);
    const rtt = typeof rttMs === 'function' ? rttMs(limit) : rttMs;
    s = algorithm.next(
      s,
      { rttMs: rtt, inflight: typeof inflight === 'function' ? inflight(limit) : inflight },
      from.now,
    );
  }
  return s;
}

describe('adaptiveLimit', () => {
  it('grows again from minLimit once latency recovers (at minLimit every call ran at the baseline concurrency, none counted, and the round never ended)', () => {
    const a = adaptiveLimit({ minLimit: 2, maxLimit: 20, initialLimit: 10, baselineSamples: 1 });
    let now = 0;
    let s = a.next(undefined, { rttMs: 10, inflight: 1 }, now);
    for (let i = 0; i < 200; i++) {
      now += 5;
      s = a.next(s, { rttMs: 200, inflight: a.limitOf(s) }, now);
    }
    expect(a.limitOf(s)).toBe(2);
    for (let i = 0; i < 100_000; i++) {
      now += 1;
      s = a.next(s, { rttMs: 10, inflight: a.limitOf(s) }, now);
    }
    expect(a.limitOf(s)).toBe(20);
  });

  it('has pinned defaults', () => {
    expect(ADAPTIVE_LIMIT_DEFAULTS).toEqual({
      initialLimit: 20,
      minLimit: 1,
      maxLimit: 1_000,
      smoothing: 0.5,
      tolerance: 1.2,
      baselineIntervalMs: 60_000,
      baselineSamples: 20,
    });
    expect(adaptiveLimit().options).toEqual(ADAPTIVE_LIMIT_DEFAULTS);
  });

  it('first measures its RTT baseline at half the initial limit, from calls started at that concurrency', () => {
    const a = adaptiveLimit({ initialLimit: 20, baselineSamples: 3 });
    const clock = { now: 0 };
    let s = a.initial(clock.now);
    expect(a.limitOf(s)).toBe(10);
    expect(a.limitOf(undefined)).toBe(10);
    s = feed(a, s, clock, 5, 400, 20); // started before the measurement, above its concurrency: ignored
    expect(s.baselineMs).toBe(0);
    s = feed(a, s, clock, 3, 100, 10);
    expect(s.baselineMs).toBe(100);
    expect(a.limitOf(s)).toBe(20);
  });

  it('grows while the round-trip time stays within tolerance of the baseline and the limit is reached', () => {
    const a = adaptiveLimit({ initialLimit: 16, baselineSamples: 1 });
    const clock = { now: 0 };
    let s = feed(a, undefined, clock, 1, 100, 1);
    // Four rounds of 100 ms, each adding half (the smoothing) of √limit / 3: 16 → 16.67 → 17.35 → 18.04 → 18.75.
    const grown = feed(a, s, clock, 40, 110, (limit) => limit, 10);
    expect(grown.limit).toBeCloseTo(18.75, 2);
    // Not saturated: latency is fine but the limit was never reached, so there is nothing to learn.
    s = feed(a, s, clock, 40, 100, 3, 10);
    expect(s.limit).toBe(16);
  });

  it('leaves out of a round the calls that ran at no more than the baseline concurrency', () => {
    const a = adaptiveLimit({ initialLimit: 16, baselineSamples: 1 });
    const clock = { now: 0 };
    let s = feed(a, undefined, clock, 1, 100, 1);
    // Saturated calls at 1.5× the baseline, each followed by a fast one that ran at 2 (started
    // during a measurement or a lull): the fast ones must not pull the round's mean under the
    // tolerance (their mean with the slow ones is 80 ms), so the limit shrinks.
    for (let i = 0; i < 40; i++) {
      clock.now += 5;
      s = a.next(s, { rttMs: 150, inflight: a.limitOf(s) }, clock.now);
      clock.now += 5;
      s = a.next(s, { rttMs: 10, inflight: 2 }, clock.now);
    }
    expect(s.limit).toBeLessThan(16);
  });

  it('keeps adapting when the clock steps back (NTP, a VM resumed): a round and the next baseline wait from the step, not its length as well', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 7_200_000 }), fc.integer({ min: 0, max: 10 }), (stepMs, before) => {
        const a = adaptiveLimit({ initialLimit: 40, baselineSamples: 1, smoothing: 1, baselineIntervalMs: 60_000 });
        const clock = { now: 1_000_000_000 };
        let s = feed(a, undefined, clock, 1, 100, 1);
        s = feed(a, s, clock, before, 100, 40, 10);
        clock.now -= stepMs;
        // The upstream slows down: each round of 100 ms (the baseline) shrinks the limit.
        s = feed(a, s, clock, 40, 10_000, 40, 10);
        expect(a.limitOf(s)).toBeLessThan(40);
        // A minute and a round later the baseline is measured again (at half the limit).
        s = feed(a, s, clock, 6_100, 100, (limit) => limit, 10);
        expect(s.nextProbeAt).toBeGreaterThan(clock.now);
        expect(s.nextProbeAt).toBeLessThanOrEqual(clock.now + 60_000 + 200);
      }),
      { numRuns: 50 },
    );
  });

  it('shrinks in proportion when the round-trip time rises past the tolerance, at most by half per round', () => {
    const a = adaptiveLimit({ initialLimit: 40, baselineSamples: 1, smoothing: 1 });
    const clock = { now: 0 };
    let s = feed(a, undefined, clock, 1, 100, 1);
    s = feed(a, s, clock, 10, 150, 40, 10); // one round: 1.2 × 100 / 150 = 0.8
    expect(s.limit).toBeCloseTo(32, 6);
    s = feed(a, s, clock, 10, 10_000, 32, 10); // far slower: halves, no more
    expect(s.limit).toBeCloseTo(16, 6);
  });

  it('counts a baseline measured below the clock resolution as 1 ms: calls of 1 ms after calls of 0 ms are not a slowdown', () => {
    const a = adaptiveLimit({ initialLimit: 20, baselineSamples: 5, smoothing: 1 });
    const clock = { now: 0 };
    let s = feed(a, undefined, clock, 5, 0, 1); // an upstream that answers within the same millisecond
    expect(s.baselineMs).toBe(1);
    s = feed(a, s, clock, 40, 1, 20);
    expect(s.limit).toBeGreaterThanOrEqual(20);
  });

  it('changes the limit at most once per round trip of the baseline, whatever the number of samples', () => {
    const a = adaptiveLimit({ initialLimit: 100, baselineSamples: 1, smoothing: 1 });
    const clock = { now: 0 };
    const s = feed(a, undefined, clock, 1, 100, 1);
    const after = feed(a, s, clock, 99, 200, 100, 1); // 99 samples within one 100 ms round
    expect(after.limit).toBe(100);
    expect(feed(a, after, clock, 1, 200, 100, 1).limit).toBeCloseTo(60, 6);
  });

  it('stays within minLimit and maxLimit', () => {
    const a = adaptiveLimit({ initialLimit: 4, minLimit: 2, maxLimit: 6, baselineSamples: 1 });
    const clock = { now: 0 };
    let s = feed(a, undefined, clock, 1, 100, 1);
    s = feed(a, s, clock, 500, 100, (limit) => limit, 10);
    expect(a.limitOf(s)).toBe(6);
    s = feed(a, s, clock, 500, 5_000, (limit) => limit, 10);
    expect(a.limitOf(s)).toBe(2);
  });

  it('re-measures the baseline every baselineIntervalMs at half the limit, and learns a slower upstream', () => {
    const a = adaptiveLimit({ initialLimit: 20, baselineSamples: 2, baselineIntervalMs: 1_000 });
    const clock = { now: 0 };
    let s = feed(a, undefined, clock, 2, 100, 10);
    expect([s.baselineMs, s.nextProbeAt]).toEqual([100, 1_002]);
    s = feed(a, s, clock, 100, 100, (limit) => limit, 10); // the round ending at 1 002 ms starts a measurement
    expect(s.probeLeft).toBe(2);
    expect(a.limitOf(s)).toBe(Math.floor(s.limit / 2));
    // The upstream is now twice as slow even at low concurrency: the baseline moves half way per measurement.
    s = feed(a, s, clock, 2, 200, (limit) => limit, 10);
    expect(s.baselineMs).toBe(150);
    expect(s.probeLeft).toBe(0);
  });

  it('keeps a JSON state: a round trip through JSON changes nothing', () => {
    const a = adaptiveLimit({ baselineSamples: 2 });
    const clock = { now: 0 };
    const s = feed(a, undefined, clock, 30, 120, (limit) => limit, 7);
    const copy = JSON.parse(JSON.stringify(s)) as AdaptiveLimitState;
    expect(copy).toEqual(s);
    expect(a.next(copy, { rttMs: 130, inflight: 9 }, clock.now + 200)).toEqual(
      a.next(s, { rttMs: 130, inflight: 9 }, clock.now + 200),
    );
  });

  it('never leaves [minLimit, maxLimit] and never mutates the state it is given, whatever the samples', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 0, max: 200 }),
        fc.array(fc.tuple(fc.double({ min: 0, max: 10_000, noNaN: true }), fc.integer({ min: 0, max: 300 })), {
          maxLength: 200,
        }),
        (minLimit, extra, samples) => {
          const a = adaptiveLimit({ minLimit, maxLimit: minLimit + extra, initialLimit: minLimit, baselineSamples: 1 });
          let s: AdaptiveLimitState | undefined;
          let now = 0;
          for (const [rttMs, inflight] of samples) {
            now += 7;
            const before = s === undefined ? undefined : JSON.stringify(s);
            const next = a.next(s, { rttMs, inflight }, now);
            if (s !== undefined) expect(JSON.stringify(s)).toBe(before);
            s = next;
            const limit = a.limitOf(s);
            expect(Number.isInteger(limit)).toBe(true);
            expect(limit).toBeGreaterThanOrEqual(minLimit);
            expect(limit).toBeLessThanOrEqual(minLimit + extra);
          }
        },
      ),
    );
  });

  it('rejects a sample that is not an RTT and a concurrency with a TypeError', () => {
    const a = adaptiveLimit();
    expect(() => a.next(undefined, { rttMs: Number.NaN, inflight: 1 }, 0)).toThrow(TypeError);
    expect(() => a.next(undefined, { rttMs: -1, inflight: 1 }, 0)).toThrow(/rttMs/);
    expect(() => a.next(undefined, { rttMs: 1, inflight: -1 }, 0)).toThrow(/inflight/);
    for (const inflight of [Number.POSITIVE_INFINITY, '7', null]) {
      expect(() => a.next(undefined, { rttMs: 1, inflight } as never, 0)).toThrow(/inflight/);
    }
    expect(() => a.next(undefined, null as never, 0)).toThrow(TypeError);
  });

  it('moves the default initialLimit into [minLimit, maxLimit]; only a given one outside them throws', () => {
    expect(adaptiveLimit({ maxLimit: 5 }).options.initialLimit).toBe(5);
    expect(adaptiveLimit({ minLimit: 30 }).options.initialLimit).toBe(30);
    expect(() => adaptiveLimit({ maxLimit: 5, initialLimit: 20 })).toThrow(/initialLimit/);
  });

  it('rejects invalid options naming each one', () => {
    const issues = (options: unknown) => {
      try {
        adaptiveLimit(options as never);
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigurationError);
        return (error as ConfigurationError).issues.map((i) => i.option);
      }
      return [];
    };
    expect(
      issues({
        initialLimit: 0,
        minLimit: 1.5,
        maxLimit: 0,
        smoothing: 0,
        tolerance: 0.9,
        baselineIntervalMs: -1,
        baselineSamples: 0,
      }),
    ).toEqual([
      'initialLimit',
      'minLimit',
      'maxLimit',
      'smoothing',
      'tolerance',
      'baselineIntervalMs',
      'baselineSamples',
    ]);
    expect(issues({ minLimit: 10, maxLimit: 5 })).toEqual(['maxLimit']);
    expect(issues({ minLimit: 10, initialLimit: 5 })).toEqual(['initialLimit']);
    expect(issues({ intialLimit: 5 })).toEqual(['intialLimit']);
  });
});
