import { describe, expect, it } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
import { gcra } from './gcra.js';
import { rateLimiter } from './limiter.js';
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

describe('windows on a clock that steps back across a boundary (NTP, callers with skew)', () => {
  for (const algorithm of [fixedWindow({ limit: 3, windowMs: 1000 }), slidingWindow({ limit: 3, windowMs: 1000 })]) {
    it(`${algorithm.kind} keeps the later window: admits 3, not one per step`, () => {
      let state: unknown;
      let admitted = 0;
      for (let i = 0; i < 100; i++) {
        const r = algorithm.consume.apply(state as never, 1, i % 2 === 0 ? 1_000_000 : 999_999);
        if (r.write !== false) state = r.state;
        if (r.output.allowed) admitted++;
      }
      expect(admitted).toBe(3);
    });
  }

  it('slidingWindow keeps the previous window with a fractional windowMs', async () => {
    // Windows start at k · windowMs; 3 · w − w is not 2 · w in doubles.
    const clock = new FakeClock(700);
    const limiter = rateLimiter({ algorithm: slidingWindow({ limit: 3, windowMs: 1000 / 3 }), clock });
    for (let i = 0; i < 3; i++) expect(limiter.consumeSync('k').allowed).toBe(true);
    await clock.advance(301); // at 1001 the previous window still weighs 3 · (1 − 0.003)
    expect(limiter.consumeSync('k').allowed).toBe(false);
  });

  it('slidingWindow reports resetMs 0, not negative, for an idle key mid-window', async () => {
    const clock = new FakeClock(0);
    const limiter = rateLimiter({ algorithm: slidingWindow({ limit: 3, windowMs: 1000 }), clock });
    await clock.advance(400);
    expect(limiter.peekSync('k').resetMs).toBe(0);
    expect(limiter.consumeSync('k', 0).resetMs).toBe(0);
  });
});

describe('windows at Date.now()-sized times with fractions of a ms (Redis time: server reads µs)', () => {
  const EPOCH = Date.UTC(2026, 0, 1); // a multiple of every window below

  it('a sliding window admits a client that waited exactly retryAfterMs, and never refuses with retryAfterMs 0', () => {
    // Window 1: 3 admitted. Window 2: the 3 fade out, so one more fits once a third has faded.
    const admitAt = EPOCH + 1000 + 1000 / 3;
    for (const early of [0, 7, 29]) {
      const clock = { t: EPOCH + 500 };
      const limiter = rateLimiter({
        algorithm: slidingWindow({ limit: 3, windowMs: 1000 }),
        clock: Object.assign(new FakeClock(), { now: () => clock.t }),
      });
      expect(limiter.consumeSync('k', 3).allowed).toBe(true);
      clock.t = admitAt - early;
      const d = limiter.consumeSync('k');
      if (!d.allowed) {
        expect(d.retryAfterMs).toBeGreaterThan(0);
        clock.t += d.retryAfterMs;
        expect(limiter.consumeSync('k')).toMatchObject({ allowed: true });
      }
    }
  });
});
