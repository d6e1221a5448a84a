import { describe, expect, it } from 'vitest';
import { gcra } from './gcra.js';
import { tokenBucket } from './token-bucket.js';
import { fixedWindow, slidingWindow } from './windows.js';

const HOUR = 3_600_000;
const T = 1_700_000_000_000;

// Each algorithm, with a period (the w of its RateLimit-Policy) of one second.
const algorithms = [
  fixedWindow({ limit: 3, windowMs: 1_000 }),
  slidingWindow({ limit: 3, windowMs: 1_000 }),
  tokenBucket({ capacity: 3, refillPerSecond: 3 }),
  gcra({ limit: 3, periodMs: 1_000 }),
];

/** Consumes one at each time in turn, keeping the written state; the decisions' `allowed`. */
function run(algorithm: (typeof algorithms)[number], times: number[]) {
  let state: unknown;
  return times.map((now) => {
    const r = algorithm.consume.apply(state as never, 1, now);
    if (r.write !== false) state = r.state;
    return r.output.allowed;
  });
}

describe('a rate limit whose clock steps back (NTP, a VM resumed)', () => {
  for (const algorithm of algorithms) {
    it(`${algorithm.kind}: a step of more than its period starts the key over rather than refuse it for the step`, () => {
      expect(algorithm.windowMs).toBe(1_000);
      const allowed = run(algorithm, [T, T, T, T, T - HOUR]);
      expect(allowed).toEqual([true, true, true, false, true]);
    });

    it(`${algorithm.kind}: a step within its period (skew between instances) keeps the count`, () => {
      const allowed = run(algorithm, [T, T, T, T - 400]);
      expect(allowed).toEqual([true, true, true, false]);
    });
  }
});
