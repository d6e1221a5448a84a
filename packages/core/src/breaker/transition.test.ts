import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
import { backoff } from '../retry/backoff.js';
import { circuitBreaker } from './breaker.js';
import type { BreakerSnapshot } from './options.js';
import { consecutive, countWindow } from './strategy.js';
import { timeWindow } from './time-window.js';
import { breakerTransition } from './transition.js';

const strategies = [
  () => consecutive(2),
  () => countWindow({ size: 6, failureRate: 0.5, minimumCalls: 3 }),
  () => timeWindow({ windowMs: 1_000, buckets: 4, failureRate: 0.5, minimumCalls: 3 }),
];

describe('breakerTransition', () => {
  it('starts a stored window of another strategy (a deploy changed it) afresh, keeping the state', () => {
    const count = (size: number) => countWindow({ size, failureRate: 0.5, minimumCalls: 2 });
    const fail = { type: 'settle', outcome: 'failure' } as const;
    const small = breakerTransition({ strategy: count(4), halfOpenAfter: 1_000 });
    let state = small.apply(undefined, fail, 0).state;
    const big = breakerTransition({ strategy: count(8), halfOpenAfter: 1_000 });
    const first = big.apply(state, fail, 10);
    expect(first.output.state).toBe('closed'); // the old window's failure is not counted
    state = big.apply(first.state, fail, 20).state;
    expect(state?.state).toBe('open');
    for (const other of [consecutive(5), count(4), strategies[2]!()]) {
      const t = breakerTransition({ strategy: other, halfOpenAfter: 1_000 });
      expect(t.apply(state, { type: 'acquire' }, 30).output).toMatchObject({ admission: 'reject', state: 'open' });
    }
    const isolated = small.apply(undefined, { type: 'isolate' }, 0).state;
    expect(big.apply(isolated, { type: 'acquire' }, 0).output.admission).toBe('reject');
  });

  it('opens, rejects with retryAfterMs, admits a probe and closes, with the state stored as JSON', async () => {
    // What a networked store does: keep the state serialised between steps.
    let stored: string | undefined;
    const t = breakerTransition({ strategy: consecutive(2), halfOpenAfter: 1_000 });
    const step = async (input: Parameters<typeof t.apply>[1], now: number) => {
      const result = t.apply(stored === undefined ? undefined : JSON.parse(stored), input, now);
      stored = JSON.stringify(result.state);
      return result.output;
    };
    expect((await step({ type: 'acquire' }, 0)).admission).toBe('call');
    await step({ type: 'settle', outcome: 'failure' }, 0);
    await step({ type: 'settle', outcome: 'failure' }, 10);
    expect(await step({ type: 'acquire' }, 400)).toMatchObject({
      admission: 'reject',
      state: 'open',
      retryAfterMs: 610,
    });
    const probe = await step({ type: 'acquire' }, 1_010);
    expect(probe).toMatchObject({ admission: 'probe', state: 'half-open' });
    expect((await step({ type: 'acquire' }, 1_020)).admission).toBe('reject'); // one probe at a time
    expect(await step({ type: 'settle', outcome: 'success', probeRound: probe.round }, 1_030)).toMatchObject({
      state: 'closed',
    });
  });

  it('isolates until released, and reset closes', () => {
    const t = breakerTransition({ strategy: consecutive(1), halfOpenAfter: 1_000 });
    let state = t.apply(undefined, { type: 'isolate' }, 0).state;
    const rejected = t.apply(state, { type: 'acquire' }, 5);
    expect(rejected.output).toMatchObject({
      admission: 'reject',
      state: 'isolated',
      retryAfterMs: null,
    });
    state = t.apply(state, { type: 'release' }, 10).state;
    expect(state?.state).toBe('closed');
    state = t.apply(state, { type: 'settle', outcome: 'failure' }, 20).state;
    expect(state?.state).toBe('open');
    expect(t.apply(state, { type: 'reset' }, 30).output.state).toBe('closed');
  });

  it('takes the jitter of a random backoff from the input', () => {
    const t = breakerTransition({
      strategy: consecutive(1),
      halfOpenAfter: backoff.exponential({ initialMs: 1_000, jitter: 'full' }),
    });
    const open = (random: number) => t.apply(undefined, { type: 'settle', outcome: 'failure', random }, 0).output;
    expect(open(0.25).retryAfterMs).toBe(250);
    expect(open(0.75).retryAfterMs).toBe(750);
  });

  it('never mutates the state it is given', () => {
    const t = breakerTransition({ strategy: countWindow({ size: 4, failureRate: 0.5 }) });
    const first = t.apply(undefined, { type: 'settle', outcome: 'failure' }, 0).state!;
    const frozen = JSON.stringify(first);
    t.apply(first, { type: 'settle', outcome: 'failure' }, 1);
    expect(JSON.stringify(first)).toBe(frozen);
  });

  it('names itself by strategy and carries JSON params', () => {
    const t = breakerTransition({ strategy: countWindow({ size: 10, failureRate: 0.5 }), halfOpenAfter: 5_000 });
    expect(t.name).toBe('breaker.count-window');
    expect(JSON.parse(JSON.stringify(t.params))).toEqual({
      strategy: {
        kind: 'count-window',
        size: 10,
        failureRate: 0.5,
        minimumCalls: 1,
        slowCallMs: null,
        slowCallRate: 1,
      },
      halfOpenAfter: 5_000,
      halfOpenMaxCalls: 1,
    });
  });

  it('decides exactly as an in-process breaker fed the same outcomes at the same times (property)', async () => {
    type Op = { kind: 'call'; fail: boolean } | { kind: 'advance'; ms: number };
    const opArb: fc.Arbitrary<Op> = fc.oneof(
      { weight: 4, arbitrary: fc.record({ kind: fc.constant('call' as const), fail: fc.boolean() }) },
      {
        weight: 1,
        arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 900 }) }),
      },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: strategies.length - 1 }),
        fc.integer({ min: 1, max: 3 }),
        fc.array(opArb, { maxLength: 60 }),
        async (which, halfOpenMaxCalls, ops) => {
          const options = {
            strategy: strategies[which]!(),
            halfOpenAfter: backoff.exponential({ initialMs: 300, maxMs: 2_000 }),
            halfOpenMaxCalls,
          };
          const clock = new FakeClock();
          const breaker = circuitBreaker({ ...options, clock, registry: false });
          const t = breakerTransition(options);
          let state: BreakerSnapshot | undefined;
          for (const op of ops) {
            if (op.kind === 'advance') {
              await clock.advance(op.ms);
              continue;
            }
            const now = clock.now();
            const inProcess = await breaker.execute(op.fail ? () => Promise.reject(new Error('x')) : () => 'ok').then(
              () => 'admitted',
              (e: Error) => (e.message === 'x' ? 'admitted' : 'rejected'),
            );
            const acquired = t.apply(state, { type: 'acquire' }, now);
            state = acquired.state;
            const decision = acquired.output.admission === 'reject' ? 'rejected' : 'admitted';
            expect(decision).toBe(inProcess);
            if (decision === 'admitted') {
              const outcome = op.fail ? 'failure' : 'success';
              const probeRound = acquired.output.admission === 'probe' ? acquired.output.round : undefined;
              state = t.apply(
                state,
                { type: 'settle', outcome, ...(probeRound === undefined ? {} : { probeRound }) },
                now,
              ).state;
            }
            expect(state!.state).toBe(breaker.state);
            expect({ ...state!, probes: 0 }).toEqual(breaker.snapshot());
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});
