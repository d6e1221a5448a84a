import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Clock } from '../clock/clock.js';
import { FakeClock } from '../clock/fake-clock.js';
import { isRateLimitExceededError } from '../errors/errors.js';
import { memoryStore } from '../store/memory.js';
import type { Store } from '../store/store.js';
import { storeOver } from '../testing/store-over.js';
import type { RateLimitAlgorithm } from './algorithm.js';
import { gcra } from './gcra.js';
import { rateLimiter } from './limiter.js';
import { tokenBucket } from './token-bucket.js';
import { fixedWindow, slidingWindow } from './windows.js';

// biome-ignore lint/suspicious/noExplicitAny: any algorithm's state.
type Algorithm = RateLimitAlgorithm<any>;

type Spec =
  | { kind: 'tokenBucket'; capacity: number; refillPerSecond: number }
  | { kind: 'gcra'; limit: number; periodMs: number; burst: number }
  | { kind: 'fixedWindow' | 'slidingWindow'; limit: number; windowMs: number };

const build = (spec: Spec): Algorithm => {
  switch (spec.kind) {
    case 'tokenBucket':
      return tokenBucket({ capacity: spec.capacity, refillPerSecond: spec.refillPerSecond });
    case 'gcra':
      return gcra({ limit: spec.limit, periodMs: spec.periodMs, burst: spec.burst });
    case 'fixedWindow':
      return fixedWindow({ limit: spec.limit, windowMs: spec.windowMs });
    case 'slidingWindow':
      return slidingWindow({ limit: spec.limit, windowMs: spec.windowMs });
  }
};

const small = fc.integer({ min: 1, max: 5 });
const specArb: fc.Arbitrary<Spec> = fc.oneof(
  fc.record({
    kind: fc.constant('tokenBucket' as const),
    capacity: small,
    refillPerSecond: fc.integer({ min: 1, max: 10 }),
  }),
  fc.record({ kind: fc.constant('gcra' as const), limit: small, periodMs: fc.constant(1_000), burst: small }),
  fc.record({
    kind: fc.constantFrom('fixedWindow' as const, 'slidingWindow' as const),
    limit: small,
    windowMs: fc.integer({ min: 50, max: 1_000 }),
  }),
);

type Op =
  | { kind: 'consume'; key: number; cost: number }
  | { kind: 'wait'; key: number; cost: number; maxWaitMs: number; abortAfter: number | undefined }
  | { kind: 'advance'; ms: number }
  | { kind: 'step'; ms: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('consume' as const),
      key: fc.integer({ min: 0, max: 1 }),
      cost: fc.integer({ min: 0, max: 5 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('wait' as const),
      key: fc.integer({ min: 0, max: 1 }),
      cost: fc.integer({ min: 0, max: 5 }),
      maxWaitMs: fc.integer({ min: 0, max: 3_000 }),
      abortAfter: fc.option(fc.integer({ min: 0, max: 1_000 }), { nil: undefined }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 1_500 }) }),
  },
);

/** With steps of the wall clock: back (NTP, skew between instances), or forward an hour (a VM resumed). */
const steppingOpArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 8, arbitrary: opArb },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('step' as const),
      ms: fc.oneof(fc.integer({ min: -5_000, max: 0 }), fc.constant(3_600_000)),
    }),
  },
);

/** A fake clock whose wall time (`now`) can step while its timers keep running on time. */
function steppingClock(start: number) {
  const timers = new FakeClock(start);
  let skew = 0;
  const clock: Clock & { step(ms: number): void; advance(ms: number): Promise<void>; runAll(): Promise<void> } = {
    now: () => timers.now() + skew,
    sleep: (ms, signal) => timers.sleep(ms, signal),
    setTimeout: (callback, ms) => timers.setTimeout(callback, ms),
    clearTimeout: (handle) => timers.clearTimeout(handle),
    step(ms) {
      skew += ms;
    },
    advance: (ms) => timers.advance(ms),
    runAll: () => timers.runAll(),
  };
  return clock;
}

interface Waiter {
  readonly key: string;
  readonly cost: number;
  readonly seq: number;
  readonly deadline: number;
  state: 'waiting' | 'admitted' | 'refused' | 'aborted';
}

/** The memory store behind the Store interface only, as a limiter sees Redis: no synchronous path. */
const networkStore = (): Store => storeOver(memoryStore());

/** Replays what the limiter admitted, in order, through the pure transitions of each algorithm. */
function replay(algorithms: readonly Algorithm[], admitted: readonly { t: number; cost: number }[]) {
  const states: unknown[] = algorithms.map(() => undefined);
  for (const { t, cost } of admitted) {
    algorithms.forEach((a, i) => {
      const r = a.consume.apply(states[i] as never, cost, t);
      expect(r.output.allowed, `${a.kind} admits the replayed cost ${cost} at ${t}`).toBe(true);
      if (r.write !== false) states[i] = r.ttlMs > 0 ? r.state : undefined;
    });
  }
  return (cost: number, t: number) => algorithms.map((a, i) => a.peek.apply(states[i] as never, cost, t).output);
}

describe('rateLimiter consume and wait (properties)', () => {
  for (const [several, stepping, networked] of [
    [false, false, false],
    [true, false, false],
    [false, true, false],
    [true, true, false],
    [false, false, true],
    [true, true, true],
  ]) {
    const over = networked ? ', over a networked store (with its denial cache)' : '';
    const path = several ? 'several limits (the asynchronous path)' : 'one limit';
    it(`${path}${stepping ? ', a wall clock that steps' : ''}${over}: admits only what its algorithms admit, FIFO, never refuses a wait that fits, and counts nothing it refused or lost`, async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(specArb, { minLength: several ? 2 : 1, maxLength: several ? 2 : 1 }),
          fc.array(stepping ? steppingOpArb : opArb, { minLength: 5, maxLength: 60, size: 'max' }),
          async (specs, ops) => {
            const algorithms = specs.map(build);
            const clock = steppingClock(1_700_000_000_000);
            const limiter = rateLimiter({
              algorithm: several ? algorithms : algorithms[0]!,
              clock,
              ...(networked ? { store: networkStore() } : {}),
            });
            const maxCost = Math.min(...algorithms.map((a) => a.maxCost));
            const admitted = new Map<string, { t: number; cost: number }[]>();
            const admit = (key: string, cost: number) => {
              let list = admitted.get(key);
              if (list === undefined) admitted.set(key, (list = []));
              list.push({ t: clock.now(), cost });
            };
            const waiters: Waiter[] = [];
            const failures: unknown[] = [];
            let seq = 0;
            for (const op of ops) {
              if (op.kind === 'advance') {
                await clock.advance(op.ms);
              } else if (op.kind === 'step') {
                clock.step(op.ms);
              } else if (op.kind === 'consume') {
                const key = `k${op.key}`;
                if (op.cost > maxCost) {
                  await expect(limiter.consume(key, op.cost)).rejects.toMatchObject({ code: 'invalid_options' });
                  continue;
                }
                // A consume jumps the queue (only waits are FIFO); its decision is kept to check below.
                const d = await limiter.consume(key, op.cost);
                if (d.allowed) admit(key, op.cost);
                else {
                  expect(d.retryAfterMs).toBeGreaterThan(0);
                  const peek = await limiter.peek(key, op.cost);
                  expect(peek.allowed).toBe(false); // a refusal took nothing
                }
              } else {
                const key = `k${op.key}`;
                if (op.cost > maxCost) {
                  await expect(limiter.wait(key, { cost: op.cost })).rejects.toMatchObject({ code: 'invalid_options' });
                  continue;
                }
                const controller = new AbortController();
                const w: Waiter = {
                  key,
                  cost: op.cost,
                  seq: seq++,
                  deadline: clock.now() + op.maxWaitMs,
                  state: 'waiting',
                };
                waiters.push(w);
                if (op.abortAfter !== undefined) clock.setTimeout(() => controller.abort(), op.abortAfter);
                const settled = limiter
                  .wait(key, { cost: op.cost, maxWaitMs: op.maxWaitMs, signal: controller.signal })
                  .then(
                    () => {
                      expect(w.state).toBe('waiting');
                      // (A wall clock stepped forward may pass the deadline within maxWaitMs of real time.)
                      if (!stepping) expect(clock.now()).toBeLessThanOrEqual(w.deadline);
                      // FIFO: nobody who came before on this key is still waiting.
                      for (const o of waiters)
                        if (o.key === key && o.seq < w.seq)
                          expect(o.state, `waiter ${o.seq} before ${w.seq}`).not.toBe('waiting');
                      w.state = 'admitted';
                      admit(key, op.cost);
                    },
                    (error: unknown) => {
                      expect(w.state).toBe('waiting');
                      if (isRateLimitExceededError(error)) {
                        // Refused only when the key's next admission is due past the deadline.
                        expect(clock.now() + error.retryAfterMs).toBeGreaterThan(w.deadline);
                        w.state = 'refused';
                      } else {
                        expect(controller.signal.aborted).toBe(true);
                        w.state = 'aborted';
                      }
                    },
                  );
                settled.catch((error: unknown) => failures.push(error)); // an assertion above failed
                await clock.advance(0);
              }
              // No missed wake-up: the oldest waiter of a key is not left waiting while its cost fits
              // (but a wall clock stepped back may make room before the timer its waiter was given).
              await clock.advance(0);
              if (stepping) continue;
              for (const key of ['k0', 'k1']) {
                const head = waiters.find((w) => w.key === key && w.state === 'waiting');
                if (head === undefined) continue;
                const peek = await limiter.peek(key, head.cost);
                expect(peek.allowed, `waiter ${head.seq} on ${key} still waits with room`).toBe(false);
              }
            }
            await clock.runAll();
            if (failures.length > 0) throw failures[0];
            expect(waiters.filter((w) => w.state === 'waiting')).toEqual([]);
            // Nothing was taken but what was admitted: the limiter's state is the replay's. (Not
            // with a stepping clock: a key expired when full stays full when the clock steps back.)
            if (stepping) return;
            for (const key of ['k0', 'k1']) {
              const model = replay(algorithms, admitted.get(key) ?? []);
              for (let cost = 0; cost <= maxCost; cost++) {
                const d = await limiter.peek(key, cost);
                const expected = model(cost, clock.now());
                expect(d.allowed).toBe(expected.every((e) => e.allowed));
                if (!several) expect(d).toEqual(expected[0]);
              }
            }
          },
        ),
        { numRuns: 100 },
      );
    });
  }

  it('over a slow store, an abort while the store decides loses at most what the store took: every admission serves one caller at most, FIFO', async () => {
    type SlowOp =
      | { kind: 'wait'; cost: number; maxWaitMs: number; abortAfter: number | undefined }
      | { kind: 'consume'; cost: number }
      | { kind: 'advance'; ms: number };
    const slowOpArb: fc.Arbitrary<SlowOp> = fc.oneof(
      {
        weight: 4,
        arbitrary: fc.record({
          kind: fc.constant('wait' as const),
          cost: fc.integer({ min: 1, max: 3 }),
          maxWaitMs: fc.integer({ min: 0, max: 3_000 }),
          abortAfter: fc.option(fc.integer({ min: 0, max: 60 }), { nil: undefined, freq: 2 }),
        }),
      },
      {
        weight: 1,
        arbitrary: fc.record({ kind: fc.constant('consume' as const), cost: fc.integer({ min: 1, max: 3 }) }),
      },
      {
        weight: 2,
        arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 400 }) }),
      },
    );
    await fc.assert(
      fc.asyncProperty(
        specArb,
        fc.integer({ min: 1, max: 30 }),
        fc.array(slowOpArb, { minLength: 5, maxLength: 40 }),
        async (spec, latencyMs, ops) => {
          const clock = new FakeClock(1_700_000_000_000);
          const inner = memoryStore();
          const taken: number[] = []; // the cost of each consume the store admitted
          const store = storeOver(inner, {
            apply: async (key, transition, input, now) => {
              await clock.sleep(latencyMs);
              const d = await inner.apply(key, transition, input, now);
              if (!transition.name.endsWith('.peek') && (d as { allowed: boolean }).allowed)
                taken.push(input as number);
              return d;
            },
          });
          const algorithm = build(spec);
          const limiter = rateLimiter({ algorithm, clock, store });
          const failures: unknown[] = [];
          const served: { seq: number; cost: number }[] = [];
          const waiters: {
            seq: number;
            state: 'waiting' | 'admitted' | 'refused' | 'aborted';
            aborted: () => boolean;
          }[] = [];
          let consumed = 0;
          for (const op of ops) {
            if (op.kind === 'advance') await clock.advance(op.ms);
            else if (op.kind === 'consume') {
              if (op.cost > algorithm.maxCost) continue;
              const pending = limiter.consume('k', op.cost);
              await clock.advance(latencyMs);
              if ((await pending).allowed) consumed += op.cost;
            } else {
              if (op.cost > algorithm.maxCost) continue;
              const controller = new AbortController();
              const w = {
                seq: waiters.length,
                state: 'waiting' as 'waiting' | 'admitted' | 'refused' | 'aborted',
                aborted: () => controller.signal.aborted,
              };
              waiters.push(w);
              if (op.abortAfter !== undefined) clock.setTimeout(() => controller.abort(), op.abortAfter);
              limiter
                .wait('k', { cost: op.cost, maxWaitMs: op.maxWaitMs, signal: controller.signal })
                .then(
                  () => {
                    expect(w.state).toBe('waiting');
                    for (const o of waiters) if (o.seq < w.seq && o.state === 'waiting') expect(o.aborted()).toBe(true);
                    w.state = 'admitted';
                    served.push({ seq: w.seq, cost: op.cost });
                  },
                  (error: unknown) => {
                    expect(w.state).toBe('waiting');
                    if (isRateLimitExceededError(error)) w.state = 'refused';
                    else {
                      expect(controller.signal.aborted).toBe(true);
                      w.state = 'aborted';
                    }
                  },
                )
                .catch((error: unknown) => failures.push(error));
              await clock.advance(0);
            }
          }
          await clock.runAll();
          if (failures.length > 0) throw failures[0];
          expect(waiters.filter((w) => w.state === 'waiting')).toEqual([]);
          // What callers got never exceeds what the store took; the rest was lost to aborts only.
          const given = served.reduce((sum, s) => sum + s.cost, 0) + consumed;
          const took = taken.reduce((sum, c) => sum + c, 0);
          expect(given).toBeLessThanOrEqual(took);
          const aborted = waiters.filter((w) => w.state === 'aborted').length;
          const stats = limiter.stats;
          expect(stats.requests).toBe(stats.allowed + stats.blocked + stats.aborted);
          if (aborted === 0) expect(given).toBe(took);
        },
      ),
      { numRuns: 100 },
    );
  });
});
