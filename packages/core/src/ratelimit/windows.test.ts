import { describe, expect, it } from 'vitest';
import { gcra } from './gcra.js';
import { fixedWindow, slidingWindow } from './windows.js';

describe('the window each algorithm names (the w of a RateLimit-Policy)', () => {
  it('is the window of a fixed or sliding window', () => {
    expect(fixedWindow({ limit: 5, windowMs: 30_000 }).windowMs).toBe(30_000);
    expect(slidingWindow({ limit: 5, windowMs: 30_000 }).windowMs).toBe(30_000);
  });

  it('is the period of GCRA, over which its burst is earned back', () => {
    expect(gcra({ limit: 100, periodMs: 60_000 }).windowMs).toBe(60_000);
    // A burst of 10 at 100 a minute is earned back in 6 s: q=10 over w=6 keeps the rate.
    expect(gcra({ limit: 100, periodMs: 60_000, burst: 10 }).windowMs).toBe(6_000);
  });
});
