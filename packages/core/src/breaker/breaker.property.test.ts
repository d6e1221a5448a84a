import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
import { backoff } from '../retry/backoff.js';
import { circuitBreaker } from './breaker.js';
import { consecutive, countWindow } from './strategy.js';
import { timeWindow } from './time-window.js';

const boom = () => {
  throw new Error('boom');
};

type Op = { kind: 'call'; fail: boolean } | { kind: 'advance'; ms: number };
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('call' as const), fail: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 700 }) }) },
);

const strategies = [
  () => consecutive(3),
  () => countWindow({ size: 8, failureRate: 0.5, minimumCalls: 4, slowCallMs: 50, slowCallRate: 0.5 }),
  () => timeWindow({ windowMs: 1_000, buckets: 5, failureRate: 0.4, minimumCalls: 3 }),
];

describe('circuitBreaker state machine (properties)', () => {
  it('never runs more than halfOpenMaxCalls probes at once', async () => {
    type ConcurrentOp =
      | { kind: 'start' }
      | { kind: 'settle'; index: number; fail: boolean }
      | { kind: 'advance'; ms: number };
    const arb: fc.Arbitrary<ConcurrentOp> = fc.oneof(
      { weight: 3, arbitrary: fc.record({ kind: fc.constant('start' as const) }) },
      {
        weight: 2,
        arbitrary: fc.record({ kind: fc.constant('settle' as const), index: fc.nat(), fail: fc.boolean() }),
      },
      {
        weight: 1,
        arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 1_500 }) }),
      },
    );
    let mostProbes = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 3 }),
        fc.array(arb, { minLength: 20, maxLength: 80 }),
        async (maxCalls, ops) => {
          const clock = new FakeClock();
          const breaker = circuitBreaker({
            strategy: consecutive(1),
            halfOpenAfter: 1_000,
            halfOpenMaxCalls: maxCalls,
            clock,
            registry: false,
          });
          let episode = 0;
          breaker.onStateChange((e) => {
            if (e.to === 'half-open') episode++;
          });
          const pending: Array<{ settle: (fail: boolean) => void; probeOf: number | undefined; done: boolean }> = [];
          const probesInFlight = () => pending.filter((p) => !p.done && p.probeOf === episode).length;
          for (const op of ops) {
            if (op.kind === 'start') {
              const probeOf = breaker.state === 'half-open' ? episode : undefined;
              const entry = { settle: (_: boolean) => {}, probeOf, done: false };
              breaker
                .execute(
                  () =>
                    new Promise<void>((resolve, reject) => {
                      entry.settle = (fail) => (fail ? reject(new Error('boom')) : resolve());
                      pending.push(entry);
                    }),
                )
                .catch(() => undefined);
            } else if (op.kind === 'settle') {
              const open = pending.filter((p) => !p.done);
              const target = open[op.index % Math.max(1, open.length)];
              if (target) {
                target.done = true;
                target.settle(op.fail);
              }
            } else {
              await clock.advance(op.ms);
            }
            await clock.advance(0);
            expect(probesInFlight()).toBeLessThanOrEqual(maxCalls);
            mostProbes = Math.max(mostProbes, probesInFlight());
          }
        },
      ),
      { numRuns: 200 },
    );
    expect(mostProbes).toBeGreaterThan(1); // the runs did reach concurrent probes
  });

  it('opens exactly when the window threshold is crossed with at least minimumCalls, never below', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 100 }),
        fc.array(fc.boolean(), { maxLength: 40 }),
        async (minimumCalls, ratePct, fails) => {
          const size = 12;
          const breaker = circuitBreaker({
            strategy: countWindow({ size, failureRate: ratePct / 100, minimumCalls }),
            clock: new FakeClock(),
            registry: false,
          });
          const seen: boolean[] = [];
          for (const fail of fails) {
            await breaker.execute(fail ? boom : () => 1).catch(() => undefined);
            seen.push(fail);
            const last = seen.slice(-size);
            const failures = last.filter(Boolean).length;
            const shouldOpen = fail && last.length >= minimumCalls && failures * 100 >= ratePct * last.length;
            expect(breaker.state).toBe(shouldOpen ? 'open' : 'closed');
            if (last.length < minimumCalls) expect(breaker.state).toBe('closed');
            if (shouldOpen) {
              breaker.reset();
              seen.length = 0;
            }
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('a breaker restored from a snapshot makes the same decisions', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: strategies.length - 1 }),
        fc.integer({ min: 1, max: 3 }),
        fc.array(opArb, { maxLength: 40 }),
        fc.array(opArb, { maxLength: 40 }),
        async (which, maxCalls, before, after) => {
          const clock = new FakeClock();
          const options = {
            strategy: strategies[which]!(),
            halfOpenAfter: backoff.exponential({ initialMs: 300, maxMs: 2_000 }),
            halfOpenMaxCalls: maxCalls,
            clock,
            registry: false as const,
          };
          const a = circuitBreaker(options);
          const drive = async (breaker: typeof a, op: Op) => {
            if (op.kind === 'advance') return `t+${op.ms}`;
            const result = await breaker.execute(op.fail ? boom : () => 'ok').then(
              (v) => v,
              (e: Error & { retryAfterMs?: number }) => `${e.name}:${e.retryAfterMs ?? ''}`,
            );
            return `${result} ${breaker.state} ${breaker.retryAfterMs}`;
          };
          for (const op of before) {
            await drive(a, op);
            if (op.kind === 'advance') await clock.advance(op.ms);
          }
          const b = circuitBreaker({ ...options, initialState: JSON.parse(JSON.stringify(a.snapshot())) });
          expect(b.snapshot()).toEqual(a.snapshot());
          for (const op of after) {
            expect(await drive(b, op)).toBe(await drive(a, op));
            if (op.kind === 'advance') await clock.advance(op.ms);
          }
          expect(b.snapshot()).toEqual(a.snapshot());
        },
      ),
      { numRuns: 150 },
    );
  });
});
