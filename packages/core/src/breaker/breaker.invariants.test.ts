import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
import { BulkheadRejectedError, isBrokenCircuitError } from '../errors/errors.js';
import { backoff } from '../retry/backoff.js';
import { circuitBreaker } from './breaker.js';
import type { BreakerStateName } from './options.js';
import { consecutive, countWindow } from './strategy.js';
import { timeWindow } from './time-window.js';

type Outcome = 'success' | 'failure' | 'aborted' | 'own';
type Op = { kind: 'call'; outcome: Outcome; latencyMs: number } | { kind: 'advance'; ms: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('call' as const),
      outcome: fc.constantFrom<Outcome>('success', 'failure', 'failure', 'aborted', 'own'),
      latencyMs: fc.constantFrom(0, 0, 10, 80),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 1_500 }) }),
  },
);

const strategies = [
  () => consecutive(2),
  () => countWindow({ size: 6, failureRate: 0.5, minimumCalls: 3, slowCallMs: 50, slowCallRate: 0.5 }),
  () =>
    timeWindow({ windowMs: 1_000, buckets: 4, failureRate: 0.5, minimumCalls: 3, slowCallMs: 50, slowCallRate: 0.5 }),
];
const delays = [
  () => 1_000,
  () => backoff.exponential({ initialMs: 300, multiplier: 2, maxMs: 2_000, jitter: 'none' }),
];

/** A strategy, a delay, `halfOpenMaxCalls` and the calls and waits to run, drawn together. */
const schedule = [
  fc.integer({ min: 0, max: strategies.length - 1 }),
  fc.integer({ min: 0, max: delays.length - 1 }),
  fc.integer({ min: 1, max: 3 }),
  fc.array(opArb, { minLength: 1, maxLength: 60, size: 'max' }),
] as const;

/** The breaker a drawn `schedule` names, on `clock`. */
const breakerOf = (which: number, delay: number, halfOpenMaxCalls: number, clock: FakeClock) =>
  circuitBreaker({
    strategy: strategies[which]!(),
    halfOpenAfter: delays[delay]!(),
    halfOpenMaxCalls,
    clock,
    registry: false,
  });

/** Runs one call to the end on `clock`: it takes `latencyMs`, and settles as `outcome` says. */
async function call(breaker: ReturnType<typeof circuitBreaker>, clock: FakeClock, op: Extract<Op, { kind: 'call' }>) {
  const controller = new AbortController();
  const at = clock.now();
  const settled = breaker
    .execute(async () => {
      await clock.sleep(op.latencyMs);
      if (op.outcome === 'success') return 'ok';
      if (op.outcome === 'aborted') controller.abort();
      if (op.outcome === 'own') throw new BulkheadRejectedError(1, 0, 1_000); // an inner policy's own refusal
      throw new Error('boom');
    }, controller.signal)
    .then(
      () => 'passed' as const,
      (error: unknown) =>
        isBrokenCircuitError(error) ? { retryAfterMs: error.retryAfterMs, at } : ('passed' as const),
    );
  await clock.advance(op.latencyMs);
  return settled;
}

describe('circuitBreaker (invariants)', () => {
  it('refuses a call while every probe slot is taken with the time until that round runs out; if the probe still runs then, it re-opens', async () => {
    const clock = new FakeClock();
    const breaker = circuitBreaker({ strategy: consecutive(1), halfOpenAfter: 1_000, clock, registry: false });
    await breaker.execute(() => Promise.reject(new Error('boom'))).catch(() => undefined);
    await clock.advance(1_000);
    void breaker.execute(() => new Promise(() => {})); // the probe hangs
    await clock.advance(400);
    const during = await breaker.execute(() => 'ok').catch((error: unknown) => error);
    expect(during).toMatchObject({ code: 'circuit_open', retryAfterMs: 600 });
    expect(breaker.retryAfterMs).toBe(600);
    await clock.advance(600);
    // The earliest the breaker changes by itself, not a probe: the round ran out, so it re-opens.
    const after = await breaker.execute(() => 'ok').catch((error: unknown) => error);
    expect(after).toMatchObject({ code: 'circuit_open', retryAfterMs: 1_000 });
    expect(breaker.state).toBe('open');
  });

  it('an aborted call, or one an inner policy of the toolkit refused, never counts: the breaker decides as if it never ran', async () => {
    await fc.assert(
      fc.asyncProperty(...schedule, async (which, delay, halfOpenMaxCalls, ops) => {
        const make = (clock: FakeClock) => breakerOf(which, delay, halfOpenMaxCalls, clock);
        const clockA = new FakeClock();
        const clockB = new FakeClock();
        const a = make(clockA); // sees every call
        const b = make(clockB); // sees only the calls that count; the same time passes
        for (const op of ops) {
          if (op.kind === 'advance') {
            await clockA.advance(op.ms);
            await clockB.advance(op.ms);
          } else if (op.outcome === 'aborted' || op.outcome === 'own') {
            await call(a, clockA, op);
            await clockB.advance(op.latencyMs);
          } else {
            const [ra, rb] = [await call(a, clockA, op), await call(b, clockB, op)];
            expect(ra === 'passed').toBe(rb === 'passed');
          }
          expect(a.state).toBe(b.state);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('a rejection’s retryAfterMs is when the next call is admitted, when nothing else happens meanwhile (no probe left running)', async () => {
    await fc.assert(
      fc.asyncProperty(...schedule, async (which, delay, halfOpenMaxCalls, ops) => {
        const clock = new FakeClock();
        const breaker = breakerOf(which, delay, halfOpenMaxCalls, clock);
        const moves: [BreakerStateName, BreakerStateName][] = [];
        breaker.onStateChange((e) => moves.push([e.from, e.to]));
        for (const op of ops) {
          if (op.kind === 'advance') {
            await clock.advance(op.ms);
            continue;
          }
          const result = await call(breaker, clock, op);
          if (result === 'passed') continue;
          expect(result.retryAfterMs).toBeGreaterThan(0);
          // (The op's latency has passed since, though a rejected call took none.)
          const retryAfterMs = Math.max(0, result.at + result.retryAfterMs - clock.now());
          expect(breaker.retryAfterMs).toBe(retryAfterMs);
          if (retryAfterMs > 1) {
            await clock.advance(retryAfterMs - 1);
            expect(breaker.retryAfterMs).toBe(1);
            expect(await call(breaker, clock, { kind: 'call', outcome: 'success', latencyMs: 0 })).not.toBe('passed');
            await clock.advance(1);
          } else await clock.advance(retryAfterMs);
          expect(await call(breaker, clock, { kind: 'call', outcome: 'success', latencyMs: 0 })).toBe('passed');
        }
        // Only the documented moves.
        const allowed = ['closed>open', 'open>half-open', 'half-open>open', 'half-open>closed'];
        for (const [from, to] of moves) expect(allowed).toContain(`${from}>${to}`);
      }),
      { numRuns: 200 },
    );
  });

  it('a wall clock that steps back or jumps: an open breaker admits its next probe one delay after it read the opening, never the step later', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: delays.length - 1 }),
        fc.array(
          fc.oneof(
            fc.record({ kind: fc.constant('step' as const), ms: fc.integer({ min: -7_200_000, max: 7_200_000 }) }),
            fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 700 }) }),
            fc.record({ kind: fc.constant('fail' as const) }),
          ),
          { minLength: 1, maxLength: 30 },
        ),
        async (delay, ops) => {
          const timers = new FakeClock(1_700_000_000_000);
          let skew = 0;
          const clock = {
            now: () => timers.now() + skew,
            sleep: (ms: number, signal?: AbortSignal) => timers.sleep(ms, signal),
            setTimeout: (callback: () => void, ms: number) => timers.setTimeout(callback, ms),
            clearTimeout: (handle: unknown) => timers.clearTimeout(handle as never),
          };
          const breaker = circuitBreaker({
            strategy: consecutive(1),
            halfOpenAfter: delays[delay]!(),
            clock,
            registry: false,
          });
          let openedAt: number | undefined; // real time the breaker opened
          let firstRead: number | undefined; // real time of the first read since the latest step
          let lastDelay = 0;
          for (const op of ops) {
            if (op.kind === 'step') {
              skew += op.ms;
              firstRead = undefined;
              continue;
            }
            if (op.kind === 'advance') {
              await timers.advance(op.ms);
              continue;
            }
            const real = timers.now();
            const wasOpen = breaker.state === 'open';
            firstRead ??= real;
            const result = await breaker
              .execute(() => Promise.reject(new Error('boom')))
              .then(
                () => 'ran',
                (error: unknown) => (isBrokenCircuitError(error) ? error.retryAfterMs : 'ran'),
              );
            if (result === 'ran') {
              // Admitted while open: never sooner than a delay after the opening (real time).
              if (wasOpen && openedAt !== undefined) expect(real - openedAt).toBeGreaterThanOrEqual(lastDelay);
              openedAt = real;
              firstRead = real;
              lastDelay = breaker.retryAfterMs;
            } else {
              // Refused: the probe is due within a delay of the first read since the step.
              expect(real + (result as number)).toBeLessThanOrEqual(
                Math.max(firstRead, openedAt ?? firstRead) + lastDelay,
              );
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
