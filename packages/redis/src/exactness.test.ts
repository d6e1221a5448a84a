/**
 * The Lua twins compute exactly what core's JavaScript transitions compute: random
 * configurations and timelines applied to the memory store and to Redis (with the caller's
 * clock) give the same outputs and the same states, to the last bit of every double.
 */
import {
  breakerSyncTransition,
  breakerTransition,
  consecutive,
  countWindow,
  fixedWindow,
  gcra,
  memoryStore,
  type RateLimitAlgorithm,
  type Store,
  slidingWindow,
  storeKey,
  storeNamespace,
  type Transition,
  timeWindow,
  tokenBucket,
} from '@resilience/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
// Core keeps the workflows' transitions private; its conformance suite imports them the same way.
import { beginTransition, completeTransition, releaseTransition } from '../../core/src/idempotency/record.js';
import {
  attemptTransition,
  claimTransition,
  deadTransition,
  failedTransition,
  releaseTransition as messageRelease,
} from '../../core/src/messages/counter.js';
import { sagaClaimTransition, sagaLogTransition } from '../../core/src/saga/log.js';
import { useServer } from './testing/fixture.js';
import { redisStore } from './testing/untimed.js';

const fixture = useServer();

// biome-ignore lint/suspicious/noExplicitAny: transitions of every type.
type Step = { transition: Transition<any, any, any>; input: unknown; dt: number };

let run = 0;

/** What a value is as JSON (the memory store keeps objects; -0, holes and undefined members read as JSON has them). */
const asJson = (value: unknown): unknown => (value === undefined ? undefined : JSON.parse(JSON.stringify(value)));

/** Applies the steps to both stores on one key and compares every output and the state after each step. */
async function sameOnBoth(steps: readonly Step[]): Promise<void> {
  const key = storeKey(storeNamespace('exact'), String(run++));
  const stores: Store[] = [memoryStore(), redisStore({ client: fixture.client, time: 'caller', timeoutMs: 10_000 })];
  let now = 1_700_000_000_000;
  for (const [i, step] of steps.entries()) {
    now += step.dt;
    const [expected, actual] = await Promise.all(stores.map((s) => s.apply(key, step.transition, step.input, now)));
    expect(asJson(actual), `output of step ${i}`).toEqual(asJson(expected));
    const [state, stored] = await Promise.all(stores.map((s) => s.get(key, now)));
    expect(asJson(stored), `state after step ${i}`).toEqual(asJson(state));
  }
}

const positive = (max: number) => fc.double({ min: 0.01, max, noNaN: true });
const algorithms: fc.Arbitrary<RateLimitAlgorithm> = fc.oneof(
  fc.record({ capacity: positive(20), refillPerSecond: positive(50) }).map((o) => tokenBucket(o)),
  fc
    .record({ limit: positive(20), periodMs: positive(5_000), burst: fc.double({ min: 1, max: 20, noNaN: true }) })
    .map((o) => gcra(o)),
  fc
    .record({ limit: positive(20), windowMs: fc.double({ min: 1, max: 5_000, noNaN: true }) })
    .map((o) => fixedWindow(o)),
  fc
    .record({ limit: positive(20), windowMs: fc.double({ min: 1, max: 5_000, noNaN: true }) })
    .map((o) => slidingWindow(o)),
);
const dt = fc.oneof(fc.integer({ min: 0, max: 3_000 }), fc.double({ min: 0, max: 3_000, noNaN: true }));

describe('the Lua transitions against core’s JavaScript', () => {
  it('rate limits: consume and peek, fractional costs, times and configurations', async () => {
    const timeline = algorithms.chain((a) =>
      fc.array(
        fc.record({
          transition: fc.constantFrom(a.consume, a.peek),
          input: fc.oneof(fc.constant(Math.min(1, a.maxCost)), fc.double({ min: 0, max: a.maxCost, noNaN: true })),
          dt,
        }),
        { minLength: 1, maxLength: 25 },
      ),
    );
    await fc.assert(fc.asyncProperty(timeline, sameOnBoth), { numRuns: 60 });
  });

  it('rate limits on a clock that steps back (NTP, callers with skew) and at fractional windows', async () => {
    // Consumes only: a read past a key's expiry drops it from memory but not from Redis, so a
    // clock stepping back behind that expiry would find state in one store only.
    const back = fc.oneof(dt, fc.integer({ min: -1_500, max: 0 }));
    const timeline = algorithms.chain((a) =>
      fc.array(
        fc.record({ transition: fc.constant(a.consume), input: fc.constant(Math.min(1, a.maxCost)), dt: back }),
        { minLength: 1, maxLength: 25 },
      ),
    );
    await fc.assert(fc.asyncProperty(timeline, sameOnBoth), { numRuns: 60 });
  });

  it('gcra admits a whole burst of 60 at Date.now()-sized times, as core does (the rounding of each step forgiven)', async () => {
    const a = gcra({ limit: 60, periodMs: 1_000 });
    const steps = Array.from({ length: 61 }, () => ({ transition: a.consume, input: 1, dt: 0 }));
    await sameOnBoth(steps);
    const store = redisStore({ client: fixture.client, time: 'caller' });
    const key = storeKey(storeNamespace('exact'), 'burst');
    const admitted = [];
    for (const _ of steps) admitted.push((await store.apply(key, a.consume, 1, 1_767_225_600_000)).allowed);
    expect(admitted.filter(Boolean)).toHaveLength(60);
  });

  it('a sliding window admits at its admit time with a fraction of a ms, as core does (never refused with retryAfterMs 0)', async () => {
    const a = slidingWindow({ limit: 3, windowMs: 1_000 });
    const epoch = Date.UTC(2026, 0, 1);
    await sameOnBoth([
      { transition: a.consume, input: 3, dt: 0 },
      { transition: a.consume, input: 1, dt: 500 + 1000 / 3 },
    ]);
    const store = redisStore({ client: fixture.client, time: 'caller' });
    const key = storeKey(storeNamespace('exact'), 'sliding');
    await store.apply(key, a.consume, 3, epoch + 500);
    expect(await store.apply(key, a.consume, 1, epoch + 1000 + 1000 / 3)).toMatchObject({ allowed: true });
  });

  it('rate limits made in one tick (sharing script calls, each with its own now) equal the same steps one by one', async () => {
    const burst = algorithms.chain((a) =>
      fc.tuple(
        fc.constant(a),
        fc.array(
          fc.record({
            transition: fc.oneof({ weight: 4, arbitrary: fc.constant(a.consume) }, fc.constant(a.peek)),
            input: fc.oneof(fc.constant(Math.min(1, a.maxCost)), fc.double({ min: 0, max: a.maxCost, noNaN: true })),
            dt,
            key: fc.integer({ min: 0, max: 2 }),
          }),
          { minLength: 1, maxLength: 60 },
        ),
      ),
    );
    await fc.assert(
      fc.asyncProperty(burst, async ([algorithm, steps]) => {
        const keys = [0, 1, 2].map((k) => storeKey(storeNamespace('burst'), `${run}.${k}`));
        run++;
        const memory = memoryStore();
        const redis = redisStore({ client: fixture.client, time: 'caller', timeoutMs: 10_000 });
        // Every script loaded first, alone and shared (a NOSCRIPT answer would be resent after later calls).
        const warm = storeKey(storeNamespace('burst'), 'warm');
        for (const t of [algorithm.consume, algorithm.peek]) {
          await redis.apply(warm, t, 0, 0);
          await Promise.all([redis.apply(warm, t, 0, 0), redis.apply(warm, t, 0, 0)]);
        }
        let now = 1_700_000_000_000;
        const nows = steps.map((step) => (now += step.dt));
        const expected: unknown[] = [];
        for (const [i, step] of steps.entries())
          expected.push(await memory.apply(keys[step.key]!, step.transition, step.input, nows[i]!));
        const actual = await Promise.all(
          steps.map((step, i) => redis.apply(keys[step.key]!, step.transition, step.input, nows[i]!)),
        );
        expect(asJson(actual)).toEqual(asJson(expected));
        for (const key of keys) expect(asJson(await redis.get(key, now))).toEqual(asJson(await memory.get(key, now)));
      }),
      { numRuns: 40 },
    );
  });

  it('breakers: every strategy, acquires, settles of this and older rounds, isolation and reset, synchronisations', async () => {
    const strategy = fc.oneof(
      fc.integer({ min: 1, max: 4 }).map((n) => consecutive(n)),
      fc
        .record({ size: fc.integer({ min: 1, max: 40 }), failureRate: positive(1), slowCallMs: fc.constant(100) })
        .map((o) => countWindow({ ...o, failureRate: Math.min(1, o.failureRate) })),
      fc
        .record({ windowMs: fc.integer({ min: 100, max: 5_000 }), buckets: fc.integer({ min: 1, max: 8 }) })
        .map((o) => timeWindow({ ...o, failureRate: 0.5, minimumCalls: 2 })),
    );
    const input = fc.oneof(
      fc.constant({ type: 'acquire' }),
      fc.record({
        type: fc.constant('settle'),
        outcome: fc.constantFrom('success', 'failure', 'ignored'),
        round: fc.option(fc.integer({ min: 0, max: 6 }), { nil: undefined }),
        slow: fc.boolean(),
      }),
      fc.record({
        type: fc.constant('settle'),
        outcome: fc.constantFrom('success', 'failure'),
        // Past 2 ** 20: a round after one that ran out (a late probe's success may count).
        probeRound: fc.oneof(fc.integer({ min: 0, max: 6 }), fc.integer({ min: 2 ** 20, max: 2 ** 20 + 6 })),
      }),
      fc.constantFrom({ type: 'isolate' }, { type: 'release' }, { type: 'reset' }),
    );
    const timeline = fc
      .record({
        strategy,
        halfOpenAfter: fc.integer({ min: 0, max: 2_000 }),
        halfOpenMaxCalls: fc.integer({ min: 1, max: 3 }),
      })
      .chain((o) => {
        const transition = breakerTransition(o);
        const n = fc.integer({ min: 0, max: 50 });
        const tally = fc.record({
          successes: n,
          slowSuccesses: n,
          failures: n,
          slowFailures: n,
          leading: n,
          longestRun: n,
          trailing: n,
        });
        const sync = fc.record({
          tally: fc.option(tally, { nil: null }),
          round: fc.option(fc.integer({ min: 0, max: 6 }), { nil: undefined }),
        });
        const step = fc.oneof(
          fc.record({ transition: fc.constant(transition), input, dt }),
          fc.record({ transition: fc.constant(breakerSyncTransition(o)), input: sync, dt }),
        );
        return fc.array(step, { minLength: 1, maxLength: 30 });
      });
    await fc.assert(fc.asyncProperty(timeline, sameOnBoth), { numRuns: 60 });
  });

  it.each([3, 31, 32, 33, 40, 64, 65, 100, 1_000, 100_000])(
    'breakers: a count window of %i calls counts every slot it restores, at word edges and in dense words, as core does',
    async (size) => {
      const tally = (successes: number, failures: number) => ({
        tally: { successes, slowSuccesses: 0, failures, slowFailures: 0, leading: 0, longestRun: 0, trailing: 0 },
      });
      const settle = (outcome: string, slow = false) => ({ type: 'settle', outcome, slow });
      // Each timeline opens the breaker at its last step exactly when the restored counts are right.
      const timeline = (failureRate: number, slowCallRate: number, inputs: object[]) => {
        const strategy = countWindow({ size, failureRate, minimumCalls: size, slowCallMs: 100, slowCallRate });
        const o = { strategy, halfOpenAfter: 1_000 };
        const [t, sync] = [breakerTransition(o), breakerSyncTransition(o)];
        return inputs.map((input) => ({ transition: 'tally' in input ? sync : t, input, dt: 1 }));
      };
      const sparse = [tally(size - 2, 0), settle('failure'), settle('success', true), settle('success')];
      await sameOnBoth(timeline(2 / size, 1, [...sparse, settle('failure')]));
      await sameOnBoth(timeline(1, 2 / size, [...sparse, settle('success', true)]));
      // Dense: size - 1 failures, a success in the last slot, one failure overwritten by a success.
      const dense = [tally(0, size - 1), settle('success'), settle('success')];
      await sameOnBoth(timeline((size - 2) / size, 1, [...dense, settle('failure')]));
    },
  );

  it('breakers on a clock that steps back: an open breaker waits one delay from the first reading after the step', async () => {
    const o = { strategy: consecutive(1), halfOpenAfter: 1_000 };
    const [t, sync] = [breakerTransition(o), breakerSyncTransition(o)];
    await sameOnBoth([
      { transition: t, input: { type: 'settle', outcome: 'failure' }, dt: 0 },
      { transition: sync, input: { tally: null }, dt: -60_000 }, // the rebased probe time is written
      { transition: t, input: { type: 'acquire' }, dt: 999 },
      { transition: t, input: { type: 'acquire' }, dt: 1 }, // the probe, one delay after the step
      { transition: t, input: { type: 'acquire' }, dt: -30_000 },
      { transition: t, input: { type: 'settle', outcome: 'failure', probeRound: 2 }, dt: 0 },
      { transition: t, input: { type: 'acquire' }, dt: -5_000 },
    ]);
  });

  it('idempotency records whose values nest escapes, brackets and quotes in strings, and a long string, byte for byte', async () => {
    const tricky = {
      a: '}]\\"{[',
      b: [['\\', '\\\\"'], { c: '"', 'd"}': ['[', ']', '{', '}'] }, [], {}],
      e: `${'\\'.repeat(50)}"${'x'.repeat(300_000)}]}`,
    };
    const claim = { fp: 'f1', owner: 'a' };
    await sameOnBoth([
      { transition: beginTransition(1_000), input: claim, dt: 0 },
      { transition: completeTransition(9_000), input: { ...claim, outcome: { ok: true, value: tricky } }, dt: 1 },
      { transition: beginTransition(1_000), input: claim, dt: 1 },
    ]);
  });

  it('idempotency records, message counters and saga logs: any JSON value, byte for byte', async () => {
    const owner = fc.constantFrom('a', 'b', 'c"\\ü');
    const value = fc.jsonValue();
    const outcome = fc.oneof(
      fc.record({ ok: fc.constant(true), value }),
      fc.record({ ok: fc.constant(false), error: fc.record({ name: fc.string(), message: fc.string() }) }),
    );
    const fp = fc.constantFrom(null, 'f1', 'f2');
    const idempotency = fc
      .record({ lock: fc.integer({ min: 1, max: 3_000 }), ttl: fc.integer({ min: 1, max: 9_000 }) })
      .chain(({ lock, ttl }) =>
        fc.oneof(
          fc.record({ transition: fc.constant(beginTransition(lock)), input: fc.record({ fp, owner }), dt }),
          fc.record({ transition: fc.constant(completeTransition(ttl)), input: fc.record({ fp, owner, outcome }), dt }),
          fc.record({ transition: fc.constant(releaseTransition), input: fc.record({ owner }), dt }),
        ),
      );
    const messages = fc
      .record({ ttl: fc.integer({ min: 1, max: 9_000 }), lease: fc.integer({ min: 1, max: 3_000 }) })
      .chain(({ ttl, lease }) => {
        const by = fc.constantFrom('d1', 'd2', 'd"\\ü');
        return fc.oneof(
          fc.record({ transition: fc.constant(attemptTransition(ttl)), input: fc.constant(null), dt }),
          fc.record({ transition: fc.constant(failedTransition(ttl)), input: fc.record({ last: fc.string() }), dt }),
          fc.record({
            transition: fc.constant(claimTransition(ttl, lease)),
            input: fc.record(
              {
                by,
                reason: fc.option(fc.constantFrom('poison', 'max_retries_exceeded'), { nil: undefined }),
                last: fc.option(fc.string(), { nil: undefined }),
              },
              { requiredKeys: ['by'] },
            ),
            dt,
          }),
          fc.record({
            transition: fc.constant(messageRelease(ttl)),
            input: fc.record({ by, last: fc.option(fc.string(), { nil: undefined }) }, { requiredKeys: ['by'] }),
            dt,
          }),
          fc.record({
            transition: fc.constant(deadTransition(ttl)),
            input: fc.record({ reason: fc.constantFrom('poison', 'max_retries_exceeded') }),
            dt,
          }),
        );
      });
    const sagas = fc.integer({ min: 1, max: 9_000 }).chain((ttl) => {
      const op = fc.oneof(
        fc.record({ op: fc.constant('start'), id: fc.string(), input: value, owner }),
        fc.record(
          {
            op: fc.constant('step'),
            index: fc.integer({ min: 0, max: 4 }),
            name: fc.string(),
            s: fc.constantFrom('started', 'completed', 'failed', 'compensating', 'compensated'),
            r: fc.option(value, { nil: undefined }),
            owner,
          },
          { requiredKeys: ['op', 'index', 'name', 's', 'owner'] },
        ),
        fc.record({ op: fc.constant('phase'), phase: fc.constantFrom('compensating', 'failed'), owner }),
        fc.record({ op: fc.constantFrom('touch', 'finish'), owner }),
      );
      return fc.oneof(
        fc.record({ transition: fc.constant(sagaLogTransition(ttl)), input: op, dt }),
        fc.record({
          transition: fc.constant(sagaClaimTransition(ttl)),
          input: fc.record({ owner, staleBefore: fc.integer({ min: 1_699_999_990_000, max: 1_700_000_100_000 }) }),
          dt,
        }),
      );
    });
    for (const step of [idempotency, messages, sagas] as fc.Arbitrary<Step>[]) {
      await fc.assert(fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 25 }), sameOnBoth), { numRuns: 60 });
    }
  });
});
