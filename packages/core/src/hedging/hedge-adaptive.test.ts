import { describe, expect, it } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
import { ConfigurationError } from '../errors/errors.js';
import type { ExecuteContext } from '../policy/policy.js';
import { type HedgeEvent, type HedgePolicy, hedge } from './hedge.js';

/** Runs one call whose attempts each take `ms` (honouring their signal). */
async function callTaking(policy: HedgePolicy, clock: FakeClock, ms: number): Promise<unknown> {
  const outcome = policy.execute(({ signal }) => clock.sleep(ms, signal).then(() => 'ok'));
  await clock.advance(ms);
  return outcome;
}

/** Starts a call whose attempts hang until the test resolves them; records when each started. */
function hanging(policy: HedgePolicy, clock: FakeClock) {
  const started: number[] = [];
  const resolvers: ((v: string) => void)[] = [];
  const result = policy.execute(
    (_: ExecuteContext) =>
      new Promise<string>((resolve) => {
        started.push(clock.now());
        resolvers.push(resolve);
      }),
  );
  return { result, started, resolvers };
}

/** 19 calls of 10, 20, … 190 ms: with one slower call the window's p95 is 190 ms. */
async function warmUp(policy: HedgePolicy, clock: FakeClock): Promise<void> {
  for (let ms = 10; ms <= 190; ms += 10) await callTaking(policy, clock, ms);
}

describe("hedge({ delayMs: 'pNN' })", () => {
  it('does not hedge before minSamples latencies are known', async () => {
    const clock = new FakeClock();
    const policy = hedge({ delayMs: 'p95', minSamples: 20, clock });
    await warmUp(policy, clock);
    const call = hanging(policy, clock);
    await clock.advance(5_000);
    expect(call.started).toHaveLength(1);
    call.resolvers[0]?.('slow');
    await expect(call.result).resolves.toBe('slow');
  });

  it('hedges at the learned p95 after warm-up', async () => {
    const clock = new FakeClock();
    const policy = hedge({ delayMs: 'p95', minSamples: 20, clock });
    await warmUp(policy, clock);
    const slow = hanging(policy, clock); // the 20th latency: 5 s
    await clock.advance(5_000);
    slow.resolvers[0]?.('slow');
    await slow.result;

    const events: HedgeEvent[] = [];
    policy.onEvent((e) => events.push(e));
    const call = hanging(policy, clock);
    await clock.advance(185);
    expect(call.started).toHaveLength(1);
    await clock.advance(10);
    expect(call.started).toHaveLength(2);
    const delay = call.started[1]! - call.started[0]!;
    expect(delay).toBeGreaterThanOrEqual(188);
    expect(delay).toBeLessThanOrEqual(192);
    expect(events).toContainEqual({ type: 'hedge', policy: 'hedge', attempt: 2 });
    call.resolvers[1]?.('hedge');
    await expect(call.result).resolves.toBe('hedge');
  });

  it('clamps the learned delay to max and min', async () => {
    for (const [clamp, expected] of [
      [{ max: 100 }, 100],
      [{ min: 500 }, 500],
    ] as const) {
      const clock = new FakeClock();
      const policy = hedge({ delayMs: 'p95', minSamples: 19, ...clamp, clock });
      await warmUp(policy, clock);
      const call = hanging(policy, clock);
      await clock.advance(1_000);
      expect(call.started[1]! - call.started[0]!).toBe(expected);
      call.resolvers[0]?.('done');
      await call.result;
    }
  });

  it('a first attempt beaten by a hedge still counts, so hedging does not lower its own delay', async () => {
    const clock = new FakeClock();
    const policy = hedge({ delayMs: 'p50', minSamples: 5, windowMs: 1_000, refreshCalls: 1, clock });
    for (let i = 0; i < 10; i++) await callTaking(policy, clock, 100); // p50 = 100
    // 2 s of calls whose first attempt hangs and whose hedge answers at once. They count as
    // the call's latency (≥ the delay): counting the winning hedge's own 0 ms would drag the
    // delay to 0, and counting only first-attempt wins would leave the window empty.
    for (let i = 0; i < 20; i++) {
      const call = hanging(policy, clock);
      await clock.advance(100);
      (call.resolvers[1] ?? call.resolvers[0])?.('answer');
      await call.result;
    }
    const probe = hanging(policy, clock);
    await clock.advance(1_000);
    expect(probe.started[1]! - probe.started[0]!).toBeGreaterThanOrEqual(99);
    probe.resolvers[0]?.('done');
    await probe.result;
  });

  it('reads an external latency source and does not hedge while it has no data', async () => {
    const clock = new FakeClock();
    let answer = Number.NaN;
    const asked: number[] = [];
    const latency = {
      quantile: (q: number) => {
        asked.push(q);
        return answer;
      },
    };
    const policy = hedge({ delayMs: 'p99.9', latency, refreshCalls: 1, clock });
    const cold = hanging(policy, clock);
    await clock.advance(10_000);
    expect(cold.started).toHaveLength(1);
    cold.resolvers[0]?.('x');
    await cold.result;
    answer = 42;
    const warm = hanging(policy, clock);
    await clock.advance(100);
    expect(warm.started[1]! - warm.started[0]!).toBe(42);
    warm.resolvers[0]?.('x');
    await warm.result;
    expect(asked).toEqual([0.999, 0.999]);
  });

  it('recomputes the delay every refreshCalls calls or refreshMs ms, not on every call', async () => {
    const clock = new FakeClock();
    let reads = 0;
    const latency = {
      quantile: () => {
        reads++;
        return 50;
      },
    };
    const policy = hedge({ delayMs: 'p95', latency, refreshCalls: 4, refreshMs: 100, clock });
    for (let i = 0; i < 9; i++) await policy.execute(() => 'fast');
    expect(reads).toBe(3); // calls 1, 5 and 9
    await clock.advance(100);
    await policy.execute(() => 'fast');
    expect(reads).toBe(4);
  });

  it('rejects a bad percentile and percentile-only options on a fixed delay, naming each', () => {
    for (const delayMs of ['p100', 'p0', 'fast', 'p', 'P95']) {
      expect(() => hedge({ delayMs: delayMs as 'p95' })).toThrow(ConfigurationError);
      expect(() => hedge({ delayMs: delayMs as 'p95' })).toThrow(/delayMs/);
    }
    expect(() => hedge({ delayMs: 100, max: 50 })).toThrow(/\bmax\b/);
    expect(() => hedge({ delayMs: 100, minSamples: 5 })).toThrow(/minSamples/);
    expect(() => hedge({ delayMs: 'p95', min: 100, max: 50 })).toThrow(/\bmax\b/);
    expect(() => hedge({ delayMs: 'p95', windowMs: 0 })).toThrow(/windowMs/);
    expect(() => hedge({ delayMs: 'p95', min: 10, max: 2_000, refreshMs: 500 })).not.toThrow();
  });
});
