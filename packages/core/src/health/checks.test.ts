import { describe, expect, it } from 'vitest';
import { circuitBreaker } from '../breaker/breaker.js';
import { consecutive } from '../breaker/strategy.js';
import { bulkhead } from '../bulkhead/bulkhead.js';
import { FakeClock } from '../clock/fake-clock.js';
import { adaptiveLimit } from '../concurrency/adaptive-limit.js';
import { breakerCheck, bulkheadCheck, functionCheck } from './checks.js';
import { health } from './health.js';

describe('breakerCheck', () => {
  it('passes when closed, warns when half-open, fails when open or isolated', async () => {
    const breaker = { state: 'closed' };
    const probes = health({ clock: new FakeClock() }).register('payments:circuit', breakerCheck(breaker), {
      failureThreshold: 2,
    });
    const at = async (state: string) => {
      breaker.state = state;
      return probes.run();
    };
    expect((await at('closed')).checks['payments:circuit']).toMatchObject({ status: 'pass', observedValue: 'closed' });
    expect((await at('half-open')).status).toBe('degraded');
    const open = await at('open');
    expect(open.checks['payments:circuit']).toMatchObject({ status: 'fail', error: 'circuit is open' });
    expect(open.status).toBe('degraded');
    expect((await at('isolated')).status).toBe('unhealthy');
  });

  it('fails while a real breaker is open and passes once it closed again', async () => {
    const clock = new FakeClock();
    const breaker = circuitBreaker({ strategy: consecutive(1), halfOpenAfter: 1_000, clock, registry: false });
    const probes = health({ clock }).register('payments:circuit', breakerCheck(breaker), { failureThreshold: 1 });
    expect((await probes.run()).status).toBe('healthy');
    await breaker.execute(() => Promise.reject(new Error('down'))).catch(() => {});
    const open = await probes.run();
    expect(open.status).toBe('unhealthy');
    expect(open.checks['payments:circuit']).toMatchObject({ status: 'fail', observedValue: 'open' });
    await clock.advance(1_000);
    await breaker.execute(() => 'ok');
    expect((await probes.run()).status).toBe('healthy');
  });

  it('rejects something without a state', () => {
    expect(() => breakerCheck(undefined as never)).toThrow(/breaker/);
  });
});

describe('bulkheadCheck', () => {
  it('reports saturation as a percentage and warns from warnAt', async () => {
    const bulkhead = { executionSlots: 10, queueSlots: 10 };
    const probes = health({ clock: new FakeClock() }).register(
      'llm',
      bulkheadCheck(bulkhead, { limit: 10, queue: 10, warnAt: 0.75 }),
    );
    expect((await probes.run()).checks.llm).toMatchObject({
      status: 'pass',
      observedValue: 0,
      observedUnit: 'percent',
    });
    bulkhead.executionSlots = 0;
    bulkhead.queueSlots = 6;
    expect((await probes.run()).checks.llm).toMatchObject({ status: 'pass', observedValue: 70 });
    bulkhead.queueSlots = 5;
    const busy = await probes.run();
    expect(busy.checks.llm).toMatchObject({ status: 'warn', observedValue: 75, output: 'bulkhead 75 % saturated' });
    expect(busy.status).toBe('degraded');
    bulkhead.queueSlots = 0;
    expect((await probes.run()).checks.llm).toMatchObject({ status: 'warn', observedValue: 100 });
  });

  it('takes limit and queue from the bulkhead when it exposes them, warning at 80 % by default', async () => {
    const check = bulkheadCheck({ executionSlots: 1, queueSlots: 0, limit: 5 });
    expect(await check(new AbortController().signal)).toMatchObject({ status: 'warn', observedValue: 80 });
  });

  it('reads limit and queue from a real bulkhead', async () => {
    const pool = bulkhead({ limit: 2, queue: 2 });
    const check = bulkheadCheck(pool);
    expect(await check(new AbortController().signal)).toMatchObject({ status: 'pass', observedValue: 0 });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const calls = [1, 2, 3, 4].map(() => pool.execute(() => gate));
    expect(await check(new AbortController().signal)).toMatchObject({ status: 'warn', observedValue: 100 });
    release();
    await Promise.all(calls);
    expect(await check(new AbortController().signal)).toMatchObject({ status: 'pass', observedValue: 0 });
  });

  it("counts used slots from limit, so a limit other than the bulkhead's own miscounts (docs/health.md)", async () => {
    const pool = bulkhead({ limit: 8 });
    const calls = [1, 2, 3, 4].map(() => pool.execute(() => new Promise<never>(() => {})));
    const signal = new AbortController().signal;
    expect(await bulkheadCheck(pool)(signal)).toMatchObject({ status: 'pass', observedValue: 50 });
    // Not "4 of 20": 20 − 4 free slots are read as used.
    expect(await bulkheadCheck(pool, { limit: 20 })(signal)).toMatchObject({ status: 'warn', observedValue: 80 });
    expect(calls).toHaveLength(4);
  });

  it('follows a bulkhead whose limit moves (an adaptive limit) instead of the limit it had when built', async () => {
    const clock = new FakeClock();
    const pool = bulkhead({ limit: adaptiveLimit({ initialLimit: 8, baselineSamples: 1 }), clock });
    const check = bulkheadCheck(pool); // built while the limit is 4 (the baseline is measured at half)
    const first = pool.execute(() => clock.sleep(10));
    await clock.advance(10);
    await first;
    expect(pool.limit).toBe(8);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const calls = [1, 2, 3, 4].map(() => pool.execute(() => gate));
    expect(await check(new AbortController().signal)).toMatchObject({ observedValue: 50 });
    release();
    await Promise.all(calls);
  });

  it('needs a limit and valid numbers', () => {
    expect(() => bulkheadCheck({ executionSlots: 1, queueSlots: 0 })).toThrow(/limit/);
    expect(() => bulkheadCheck({ executionSlots: 1, queueSlots: 0 }, { limit: 2, warnAt: 2 })).toThrow(/warnAt/);
  });
});

describe('functionCheck', () => {
  it('passes whatever the function resolves with and fails when it rejects', async () => {
    let result: unknown = false;
    let signal: AbortSignal | undefined;
    const probes = health({ clock: new FakeClock() }).register(
      'redis',
      functionCheck(async (s) => {
        signal = s;
        if (result instanceof Error) throw result;
        return result;
      }),
    );
    expect((await probes.run()).checks.redis?.status).toBe('pass');
    expect(signal).toBeInstanceOf(AbortSignal);
    result = new Error('NOAUTH');
    expect((await probes.run()).checks.redis).toMatchObject({ status: 'fail', error: 'NOAUTH' });
  });

  it('rejects a non-function', () => {
    expect(() => functionCheck(42 as never)).toThrow(/fn/);
  });
});
