import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ThrottleInput, ThrottleState } from './state.js';
import { throttleTransition } from './state.js';

const WINDOW = 120_000;
type Step = { dt: number; input: ThrottleInput };

const steps = fc.array(
  fc.record({
    dt: fc.integer({ min: 0, max: 30_000 }),
    input: fc.oneof(
      fc.constant<ThrottleInput>('accepted'),
      fc.constant<ThrottleInput>('failed'),
      fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }).map((draw) => ({ draw })),
    ),
  }),
  { minLength: 1, maxLength: 80 },
);

/** Runs the steps through the pure transition; returns each output with its time. */
function run(k: number, list: readonly Step[], maxRejection?: number) {
  const t = throttleTransition(k, WINDOW, maxRejection);
  let state: ThrottleState | undefined;
  let now = 0;
  return list.map(({ dt, input }) => {
    now += dt;
    const r = t.apply(state, input, now);
    state = JSON.parse(JSON.stringify(r.state)) as ThrottleState; // the state survives JSON
    return { now, input, output: r.output, state };
  });
}

describe('throttleTransition (the Google SRE formula)', () => {
  it('rejects with probability max(0, (requests − k·accepts) / (requests + 1)), requests counted as they end', () => {
    const t = throttleTransition(2, WINDOW);
    let state: ThrottleState | undefined;
    for (let i = 0; i < 8; i++) state = t.apply(state, 'failed', 0).state; // 8 requests refused downstream
    for (let i = 0; i < 2; i++) state = t.apply(state, 'accepted', 0).state; // 2 accepted
    const d = t.apply(state, { draw: 0.5 }, 0).output;
    expect(d).toEqual({ allowed: false, probability: (10 - 2 * 2) / 11, requests: 10, accepts: 2 });
    expect(t.apply(state, { draw: 0.6 }, 0).output.allowed).toBe(true);
    // An admitted request is not counted until it ends; a refused one has ended.
    const admitted = t.apply(state, { draw: 0.6 }, 0).state;
    expect(t.apply(admitted, { draw: 0.6 }, 0).output.requests).toBe(10);
    const refused = t.apply(state, { draw: 0 }, 0).state;
    expect(t.apply(refused, { draw: 0.6 }, 0).output.requests).toBe(11);
  });

  it('forgets what is older than the window (two minutes)', () => {
    const t = throttleTransition(2, WINDOW, 1); // uncapped, so the probability shows the 50 failures
    let state: ThrottleState | undefined;
    for (let i = 0; i < 50; i++) state = t.apply(state, 'failed', 0).state;
    expect(t.apply(state, { draw: 0 }, WINDOW - 10_001).output.probability).toBeGreaterThan(0.9);
    expect(t.apply(state, { draw: 0 }, WINDOW).output).toEqual({
      allowed: true,
      probability: 0,
      requests: 0,
      accepts: 0,
    });
  });

  it('the probability is always in [0, 1) and never rejects while accepts >= requests / k', () => {
    fc.assert(
      fc.property(fc.double({ min: 1, max: 5, noNaN: true }), steps, (k, list) => {
        for (const { input, output } of run(k, list)) {
          expect(output.probability).toBeGreaterThanOrEqual(0);
          expect(output.probability).toBeLessThan(1);
          if (output.accepts * k >= output.requests) expect(output.allowed).toBe(true);
          if (typeof input === 'object' && input.draw >= output.probability) expect(output.allowed).toBe(true);
        }
      }),
    );
  });

  it('is the formula capped at maxRejection', () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1, noNaN: true }), steps, (maxRejection, list) => {
        for (const { output } of run(2, list, maxRejection)) {
          const formula = Math.max(0, (output.requests - 2 * output.accepts) / (output.requests + 1));
          expect(output.probability).toBe(Math.min(maxRejection, formula));
        }
      }),
    );
  });

  it('counts exactly the requests and accepts of the last window (12 buckets of 10 s)', () => {
    fc.assert(
      fc.property(steps, (list) => {
        // A request counts once it has ended: refused here, failed or accepted (none in flight).
        const seen: { now: number; ended: boolean; accepted: boolean }[] = [];
        for (const { now, input, output } of run(2, list)) {
          const bucket = Math.floor(now / 10_000);
          const inWindow = seen.filter((s) => Math.floor(s.now / 10_000) > bucket - 12);
          expect(output.requests).toBe(inWindow.filter((s) => s.ended).length);
          expect(output.accepts).toBe(inWindow.filter((s) => s.accepted).length);
          const ended = typeof input === 'object' ? !output.allowed : true;
          seen.push({ now, ended, accepted: input === 'accepted' });
        }
      }),
    );
  });

  it('keeps a state of 24 numbers whatever the traffic, and never mutates the previous one', () => {
    fc.assert(
      fc.property(steps, (list) => {
        const t = throttleTransition(2, WINDOW);
        let state: ThrottleState | undefined;
        let now = 0;
        for (const { dt, input } of list) {
          now += dt;
          const before = state === undefined ? undefined : JSON.stringify(state);
          const next = t.apply(state, input, now).state!;
          if (state !== undefined) expect(JSON.stringify(state)).toBe(before);
          expect(next.counts).toHaveLength(24);
          state = next;
        }
      }),
    );
  });

  it('counts into the newest bucket when the clock goes back', () => {
    const t = throttleTransition(2, WINDOW);
    const late = t.apply(undefined, 'failed', 50_000).state;
    const back = t.apply(late, { draw: 0.5 }, 10_000);
    expect(back.state!.epoch).toBe(late!.epoch);
    expect(back.output.requests).toBe(1);
  });

  it('starts over when the clock steps back more than the window, rather than freeze the window for the step', () => {
    const t = throttleTransition(2, WINDOW);
    let state: ThrottleState | undefined;
    for (let i = 0; i < 10; i++) state = t.apply(state, 'failed', 3_600_000).state; // an outage, then NTP steps back an hour
    // Five minutes on (an hour before the outage's times), the two-minute window holds nothing.
    const later = t.apply(state, { draw: 0 }, 300_000);
    expect(later.output).toEqual({ allowed: true, probability: 0, requests: 0, accepts: 0 });
  });

  it('whatever steps the clock takes, counts only what ended in the window since it last stepped back more than a window', () => {
    const stepping = fc.array(
      fc.record({
        dt: fc.oneof(fc.integer({ min: 0, max: 30_000 }), fc.integer({ min: -3_600_000, max: -130_000 })),
        input: fc.constantFrom<ThrottleInput>('accepted', 'failed'),
      }),
      { minLength: 1, maxLength: 60 },
    );
    fc.assert(
      fc.property(stepping, (list) => {
        const t = throttleTransition(2, WINDOW);
        let state: ThrottleState | undefined;
        let now = 10_000_000;
        let seen: { now: number; accepted: boolean }[] = [];
        for (const { dt, input } of list) {
          now += dt;
          if (dt < 0) seen = []; // more than a window back: a fresh start
          const bucket = Math.floor(now / 10_000);
          const inWindow = seen.filter((s) => Math.floor(s.now / 10_000) > bucket - 12);
          const { output } = t.apply(state, input, now);
          state = t.apply(state, input, now).state;
          expect(output.requests).toBe(inWindow.length);
          expect(output.accepts).toBe(inWindow.filter((s) => s.accepted).length);
          seen.push({ now, accepted: input === 'accepted' });
        }
      }),
    );
  });
});
