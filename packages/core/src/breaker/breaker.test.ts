import { describe, expect, it } from 'vitest';
import { bulkhead } from '../bulkhead/bulkhead.js';
import { FakeClock } from '../clock/fake-clock.js';
import {
  BrokenCircuitError,
  BulkheadRejectedError,
  ConfigurationError,
  IsolatedCircuitError,
  RateLimitExceededError,
} from '../errors/errors.js';
import { handle } from '../errors/handle.js';
import { pipeline } from '../pipeline/pipeline.js';
import { backoff } from '../retry/backoff.js';
import { type BreakerEvent, circuitBreaker } from './breaker.js';
import type { CircuitBreakerOptions } from './options.js';
import { consecutive, countWindow } from './strategy.js';
import { timeWindow } from './time-window.js';

const boom = () => {
  throw new Error('boom');
};
const ok = () => 'ok';

function setup(options: CircuitBreakerOptions = {}) {
  const clock = new FakeClock();
  const breaker = circuitBreaker({
    strategy: consecutive(3),
    halfOpenAfter: 1_000,
    clock,
    registry: false,
    ...options,
  });
  const events: BreakerEvent[] = [];
  breaker.onEvent((e) => events.push(e));
  const fail = (n = 1) => Promise.all(Array.from({ length: n }, () => breaker.execute(boom).catch((e) => e)));
  return { clock, breaker, events, fail };
}

const transitions = (events: BreakerEvent[]) =>
  events.flatMap((e) => (e.type === 'state_change' ? [`${e.from}->${e.to}`] : []));

describe('circuitBreaker', () => {
  it('passes values and errors through while closed', async () => {
    const { breaker } = setup();
    await expect(breaker.execute(ok)).resolves.toBe('ok');
    await expect(breaker.execute(boom)).rejects.toThrow('boom');
    expect(breaker.state).toBe('closed');
  });

  it('opens after three consecutive failures and rejects with retryAfterMs until the next probe', async () => {
    const { breaker, clock, fail } = setup();
    await fail(2);
    expect(breaker.state).toBe('closed');
    await fail(1);
    expect(breaker.state).toBe('open');
    await clock.advance(400);
    const error = await breaker.execute(ok).catch((e) => e);
    expect(error).toBeInstanceOf(BrokenCircuitError);
    expect(error.code).toBe('circuit_open');
    expect(error.retryAfterMs).toBe(600);
  });

  it('does not call the function while open', async () => {
    const { breaker, fail } = setup();
    await fail(3);
    let called = 0;
    await breaker
      .execute(() => {
        called++;
      })
      .catch(() => undefined);
    expect(called).toBe(0);
  });

  it('a success resets the consecutive count', async () => {
    const { breaker, fail } = setup();
    await fail(2);
    await breaker.execute(ok);
    await fail(2);
    expect(breaker.state).toBe('closed');
  });

  it('goes half-open after halfOpenAfter and closes when the probe succeeds', async () => {
    const { breaker, clock, fail, events } = setup();
    await fail(3);
    await clock.advance(1_000);
    expect(breaker.state).toBe('half-open');
    await expect(breaker.execute(ok)).resolves.toBe('ok');
    expect(breaker.state).toBe('closed');
    expect(transitions(events)).toEqual(['closed->open', 'open->half-open', 'half-open->closed']);
  });

  it('re-opens when the probe fails, with a backoff that grows per failed probe and resets on close', async () => {
    const { breaker, clock, fail } = setup({ halfOpenAfter: backoff.exponential({ initialMs: 100, maxMs: 10_000 }) });
    await fail(3);
    expect(breaker.retryAfterMs).toBe(100);
    await clock.advance(100);
    await fail(1); // probe fails
    expect(breaker.state).toBe('open');
    expect(breaker.retryAfterMs).toBe(200);
    await clock.advance(200);
    await fail(1);
    expect(breaker.retryAfterMs).toBe(400);
    await clock.advance(400);
    await breaker.execute(ok);
    expect(breaker.state).toBe('closed');
    await fail(3);
    expect(breaker.retryAfterMs).toBe(100);
  });

  it('admits halfOpenMaxCalls probes at once and rejects the rest immediately', async () => {
    const { breaker, clock, fail } = setup({ halfOpenMaxCalls: 2 });
    await fail(3);
    await clock.advance(1_000);
    const release: Array<() => void> = [];
    const probe = () => new Promise<string>((resolve) => release.push(() => resolve('probe')));
    const a = breaker.execute(probe);
    const b = breaker.execute(probe);
    const c = breaker.execute(probe).catch((e) => e);
    expect(await c).toBeInstanceOf(BrokenCircuitError);
    expect(release).toHaveLength(2);
    release[0]!();
    await a;
    expect(breaker.state).toBe('half-open'); // one of two probes succeeded
    release[1]!();
    await b;
    expect(breaker.state).toBe('closed');
  });

  it('a hanging probe does not keep the breaker half-open: after halfOpenAfter the round counts as failed', async () => {
    const { breaker, clock, fail } = setup();
    await fail(3);
    await clock.advance(1_000);
    let release = () => {};
    const hanging = breaker.execute(() => new Promise<string>((resolve) => (release = () => resolve('late'))));
    expect((await breaker.execute(ok).catch((e) => e)).retryAfterMs).toBe(1_000);
    await clock.advance(1_000);
    expect(breaker.state).toBe('open');
    await clock.advance(1_000);
    await expect(breaker.execute(ok)).resolves.toBe('ok');
    expect(breaker.state).toBe('closed');
    release();
    await hanging;
    expect(breaker.state).toBe('closed'); // the stale probe's outcome is ignored
  });

  it('does not count the toolkit’s own rejections or cancellations as failures', async () => {
    const { breaker } = setup();
    for (let i = 0; i < 5; i++) {
      await breaker.execute(() => Promise.reject(new BulkheadRejectedError(1, 0))).catch(() => undefined);
      await breaker.execute(() => Promise.reject(new RateLimitExceededError(10))).catch(() => undefined);
      await breaker.execute(() => Promise.reject(new BrokenCircuitError())).catch(() => undefined);
      const abort = Object.assign(new Error('aborted'), { name: 'AbortError' });
      await breaker.execute(() => Promise.reject(abort)).catch(() => undefined);
    }
    expect(breaker.state).toBe('closed');
  });

  it('does not count an error thrown while the caller’s signal is aborted', async () => {
    const { breaker } = setup();
    const controller = new AbortController();
    controller.abort();
    for (let i = 0; i < 5; i++) await breaker.execute(boom, controller.signal).catch(() => undefined);
    expect(breaker.state).toBe('closed');
  });

  it('counts only what handle accepts; other errors count as successes', async () => {
    const { breaker, fail } = setup({ handle: (e) => (e as Error).message === 'boom' });
    const notHandled = () => Promise.reject(new Error('404'));
    await fail(2);
    await breaker.execute(notHandled).catch(() => undefined);
    await fail(2);
    expect(breaker.state).toBe('closed');
    await fail(1);
    expect(breaker.state).toBe('open');
  });

  it('counts own rejections when handle asks for them', async () => {
    const { breaker } = setup({ handle: () => true });
    for (let i = 0; i < 3; i++)
      await breaker.execute(() => Promise.reject(new BulkheadRejectedError(1, 0))).catch(() => undefined);
    expect(breaker.state).toBe('open');
  });

  it('isolate() rejects with IsolatedCircuitError until disposed; reset() closes', async () => {
    const { breaker, events } = setup();
    const release = breaker.isolate();
    expect(breaker.state).toBe('isolated');
    const error = await breaker.execute(ok).catch((e) => e);
    expect(error).toBeInstanceOf(IsolatedCircuitError);
    expect(error.retryAfterMs).toBe(Number.POSITIVE_INFINITY);
    release();
    expect(breaker.state).toBe('closed');
    breaker.isolate();
    breaker.isolate();
    breaker.reset();
    expect(breaker.state).toBe('closed');
    expect(transitions(events)).toEqual([
      'closed->isolated',
      'isolated->closed',
      'closed->isolated',
      'isolated->closed',
    ]);
  });

  it('stays isolated until every isolation is disposed', () => {
    const { breaker } = setup();
    const a = breaker.isolate();
    const b = breaker.isolate();
    a();
    a();
    expect(breaker.state).toBe('isolated');
    b();
    expect(breaker.state).toBe('closed');
  });

  it('reports success, failure and rejection events with durations and typed subscriptions', async () => {
    const { breaker, clock, fail } = setup();
    const seen: string[] = [];
    breaker.onSuccess((e) => seen.push(`success ${e.durationMs}`));
    breaker.onFailure((e) => seen.push(`failure ${(e.error as Error).message}`));
    breaker.onRejected((e) => seen.push(`rejected ${e.state} ${e.retryAfterMs}`));
    const off = breaker.onStateChange((e) => seen.push(`${e.from}->${e.to}`));
    const slow = breaker.execute(() => clock.sleep(30).then(ok));
    await clock.advance(30);
    await slow;
    await fail(3);
    await breaker.execute(ok).catch(() => undefined);
    off();
    breaker.reset();
    expect(seen).toEqual([
      'success 30',
      'failure boom',
      'failure boom',
      'failure boom',
      'closed->open',
      'rejected open 1000',
    ]);
  });

  it('on(type, listener) subscribes to one event type until disposed', async () => {
    const { breaker, fail } = setup();
    const changes: string[] = [];
    const off = breaker.on('state_change', (e) => changes.push(e.to));
    await fail(3);
    off();
    breaker.reset();
    expect(changes).toEqual(['open']);
  });

  it("refuses an event type it never emits (opossum's 'fire'), naming type", () => {
    const { breaker } = setup();
    expect(() => breaker.on('fire' as never, () => {})).toThrow(ConfigurationError);
    expect(() => breaker.on('fire' as never, () => {})).toThrow(
      /type: received "fire", expected one of "state_change"/,
    );
  });

  it.each([
    ['open', 'state_change'],
    ['close', 'state_change'],
    ['halfOpen', 'state_change'],
    ['reject', 'rejected'],
    ['timeout', "timeout()'s onTimeout"],
    ['fallback', "fallback()'s onFallback"],
    ['semaphoreLocked', "bulkhead()'s onRejected"],
  ])("says which event or policy has opossum's %s", (type, hint) => {
    const { breaker } = setup();
    expect(() => breaker.on(type as never, () => {})).toThrow(
      `type: received "${type}", expected a breaker event (opossum's? here: ${hint})`,
    );
  });

  it('names the breaker in events and rejections', async () => {
    const { breaker, fail } = setup({ name: 'payments' });
    await fail(3);
    const error = await breaker.execute(ok).catch((e) => e);
    expect(error.message).toContain('payments');
    expect(breaker.name).toBe('payments');
  });

  it('rejects with the failure that opened it as cause (a failed probe’s after re-opening; none while isolated)', async () => {
    const { breaker, clock } = setup({ strategy: consecutive(2) });
    const first = new Error('HTTP 503 (first)');
    const last = new Error('HTTP 503 (last)');
    await breaker.execute(() => Promise.reject(first)).catch(() => undefined);
    await breaker.execute(() => Promise.reject(last)).catch(() => undefined);
    const rejected = await breaker.execute(ok).catch((e) => e);
    expect(rejected).toBeInstanceOf(BrokenCircuitError);
    expect(rejected.cause).toBe(last);
    await clock.advance(1_000);
    const probeFailure = new Error('HTTP 502 (probe)');
    await breaker.execute(() => Promise.reject(probeFailure)).catch(() => undefined);
    expect((await breaker.execute(ok).catch((e) => e)).cause).toBe(probeFailure);
    await clock.advance(2_000);
    await breaker.execute(ok); // the probe closes it
    breaker.isolate();
    expect('cause' in (await breaker.execute(ok).catch((e) => e))).toBe(false); // isolated by hand
  });

  it('gives a rejection a short stack without changing Error.stackTraceLimit', async () => {
    const { breaker, fail } = setup();
    await fail(3);
    const before = Error.stackTraceLimit;
    const rejectHere = () => breaker.execute(ok).catch((e) => e);
    const errors = [await rejectHere(), await rejectHere()];
    expect(Error.stackTraceLimit).toBe(before);
    for (const error of errors) {
      const lines = String(error.stack).split('\n');
      expect(lines[0]).toBe('BrokenCircuitError: Circuit breaker "circuit-breaker" is open');
      expect(lines.slice(1).every((line) => line.startsWith('    at '))).toBe(true);
      expect(lines.length).toBeGreaterThan(1);
      expect(lines.length).toBeLessThanOrEqual(1 + 10);
      expect(error.stack).toContain('rejectHere');
    }
  });

  it('names the state in each rejection of one opening: open, then half-open while a probe runs', async () => {
    const { breaker, clock, fail } = setup();
    await fail(3);
    const open = await breaker.execute(ok).catch((e) => e);
    await clock.advance(1_000);
    let finish!: () => void;
    const probe = breaker.execute(() => new Promise<void>((resolve) => (finish = resolve)));
    const halfOpen = await breaker.execute(ok).catch((e) => e);
    expect(open.message).toBe('Circuit breaker "circuit-breaker" is open');
    expect(halfOpen.message).toBe('Circuit breaker "circuit-breaker" is half-open');
    expect(String(halfOpen.stack).split('\n')[0]).toBe(`BrokenCircuitError: ${halfOpen.message}`);
    expect(halfOpen.cause).toBe(open.cause);
    finish();
    await probe;
  });

  it('does not read the clock on the closed success path of a consecutive breaker', async () => {
    const clock = new FakeClock();
    let reads = 0;
    const counting = Object.assign(Object.create(clock) as FakeClock, {
      now: () => {
        reads++;
        return clock.now();
      },
    });
    const breaker = circuitBreaker({ strategy: consecutive(3), clock: counting, registry: false });
    for (let i = 0; i < 10; i++) await breaker.execute(ok);
    expect(reads).toBe(0);
    breaker.onSuccess(() => undefined);
    await breaker.execute(ok);
    expect(reads).toBe(2); // listeners want durations
  });

  it('opens on slow calls timed with the injected clock', async () => {
    const { breaker, clock } = setup({
      strategy: countWindow({ size: 4, failureRate: 1, minimumCalls: 2, slowCallMs: 100, slowCallRate: 0.5 }),
    });
    const slow = () => breaker.execute(() => clock.sleep(150).then(ok));
    await breaker.execute(ok);
    expect(breaker.state).toBe('closed');
    const call = slow();
    await clock.advance(150);
    await expect(call).resolves.toBe('ok');
    expect(breaker.state).toBe('open');
  });

  it('opens on the failure rate within a time window and forgets old failures', async () => {
    const { breaker, clock, fail } = setup({
      strategy: timeWindow({ windowMs: 1_000, buckets: 10, failureRate: 0.5, minimumCalls: 4 }),
    });
    await fail(2);
    await clock.advance(1_000);
    await breaker.execute(ok);
    await breaker.execute(ok);
    await fail(1);
    expect(breaker.state).toBe('closed'); // the first two failures left the window: 1 of 3
    await fail(1);
    expect(breaker.state).toBe('open'); // 2 of 4
  });

  it('a cancelled probe frees its slot without closing or re-opening', async () => {
    const { breaker, clock, fail } = setup();
    await fail(3);
    await clock.advance(1_000);
    const controller = new AbortController();
    const probe = breaker.execute(({ signal }) => {
      controller.abort();
      throw signal.reason;
    }, controller.signal);
    await expect(probe).rejects.toBeDefined();
    expect(breaker.state).toBe('half-open');
    await expect(breaker.execute(ok)).resolves.toBe('ok');
    expect(breaker.state).toBe('closed');
  });

  it('restores from a snapshot: open with the same time to the next probe', async () => {
    const { breaker, clock, fail } = setup();
    await fail(3);
    await clock.advance(250);
    const snapshot = JSON.parse(JSON.stringify(breaker.snapshot()));
    const restored = circuitBreaker({
      strategy: consecutive(3),
      halfOpenAfter: 1_000,
      clock,
      registry: false,
      initialState: snapshot,
    });
    expect(restored.state).toBe('open');
    expect(restored.retryAfterMs).toBe(750);
  });

  it('refuses a snapshot that is not one', () => {
    expect(() => circuitBreaker({ initialState: { version: 2 } as never, registry: false })).toThrow(/initialState/);
    const countSnapshot = circuitBreaker({
      strategy: countWindow({ size: 5, failureRate: 0.5 }),
      registry: false,
    }).snapshot();
    expect(() => circuitBreaker({ strategy: consecutive(2), initialState: countSnapshot, registry: false })).toThrow(
      /initialState\.window/,
    );
  });

  it('wrap() returns a function that calls through the breaker with its arguments', async () => {
    const { breaker, fail } = setup();
    const add = breaker.wrap((a: number, b: number) => a + b);
    await expect(add(2, 3)).resolves.toBe(5);
    await fail(3);
    await expect(add(2, 3)).rejects.toBeInstanceOf(BrokenCircuitError);
  });

  it('throws ConfigurationError naming each invalid option', () => {
    const make = () =>
      circuitBreaker({
        halfOpenAfter: -1,
        halfOpenMaxCalls: 0,
        handle: 'yes' as never,
        name: '',
        strategy: {} as never,
        clock: {} as never,
        registry: 'global' as never,
      });
    expect(make).toThrow(ConfigurationError);
    try {
      make();
    } catch (e) {
      const names = (e as ConfigurationError).issues.map((i) => i.option);
      expect(names).toEqual(['strategy', 'halfOpenAfter', 'halfOpenMaxCalls', 'handle', 'name', 'clock', 'registry']);
    }
    expect(() => consecutive(0)).toThrow(/threshold/);
  });
});

// Without a caller signal, timing or listeners, a closed breaker settles calls without an
// async frame; the same rules must hold there.
describe("docs/migrating.md's opossum errorFilter recipe", () => {
  it('handle.all().not(...) leaves a full bulkhead inside the breaker out, where a bare .not() counts it', async () => {
    const isNotFound = (e: unknown) => (e as { status?: number }).status === 404;
    const stateAfterFullPool = async (h: (error: unknown) => boolean) => {
      const breaker = circuitBreaker({ strategy: consecutive(3), handle: h, registry: false });
      const call = pipeline(breaker, bulkhead({ limit: 1 }));
      let release = () => {};
      const slow = call.execute(() => new Promise<void>((r) => (release = r)));
      for (let i = 0; i < 3; i++) await call.execute(() => 1).catch(() => {});
      release();
      await slow;
      return breaker.state;
    };
    expect(await stateAfterFullPool(handle.all().not(handle.when(isNotFound)))).toBe('closed');
    expect(await stateAfterFullPool(handle.when(isNotFound).not())).toBe('open');
  });
});

describe('circuitBreaker fast path (no signal, no listeners)', () => {
  const quiet = (options: CircuitBreakerOptions = {}) =>
    circuitBreaker({ strategy: consecutive(2), clock: new FakeClock(), registry: false, ...options });

  it('rejects with the failure that opened it as cause', async () => {
    const breaker = quiet();
    const last = new Error('HTTP 503');
    await breaker.execute(boom).catch(() => undefined);
    await breaker.execute(() => Promise.reject(last)).catch(() => undefined);
    expect((await breaker.execute(ok).catch((e) => e)).cause).toBe(last);
  });

  it('passes values through and counts synchronous throws and rejections as failures', async () => {
    const breaker = quiet();
    await expect(breaker.execute(() => 7)).resolves.toBe(7);
    await expect(breaker.execute(boom)).rejects.toThrow('boom');
    expect(breaker.state).toBe('closed');
    await expect(breaker.execute(() => Promise.reject(new Error('down')))).rejects.toThrow('down');
    expect(breaker.state).toBe('open');
  });

  it('a success resets the consecutive count', async () => {
    const breaker = quiet();
    await breaker.execute(boom).catch(() => undefined);
    await breaker.execute(ok);
    await breaker.execute(boom).catch(() => undefined);
    expect(breaker.state).toBe('closed');
  });

  it('ignores own rejections and cancellations, and counts unhandled errors as successes', async () => {
    const breaker = quiet({ handle: (e) => (e as Error).message === 'boom' });
    const abort = Object.assign(new Error('aborted'), { name: 'AbortError' });
    await breaker.execute(boom).catch(() => undefined);
    await breaker.execute(() => Promise.reject(new TypeError('not handled'))).catch(() => undefined);
    await breaker.execute(boom).catch(() => undefined);
    expect(breaker.state).toBe('closed'); // the TypeError counted as a success between the two failures
    for (let i = 0; i < 3; i++) {
      await breaker.execute(() => Promise.reject(new BulkheadRejectedError(1, 0))).catch(() => undefined);
      await breaker.execute(() => Promise.reject(abort)).catch(() => undefined);
    }
    await breaker.execute(boom).catch(() => undefined);
    expect(breaker.state).toBe('open'); // ignored: they neither failed nor reset the count
  });

  it('does not count an error thrown while the caller’s signal is aborted', async () => {
    const breaker = quiet();
    const controller = new AbortController();
    controller.abort();
    for (let i = 0; i < 3; i++) await breaker.execute(boom, controller.signal).catch(() => undefined);
    for (let i = 0; i < 3; i++)
      await breaker.execute(() => Promise.reject(new Error('x')), controller.signal).catch(() => undefined);
    expect(breaker.state).toBe('closed');
    await breaker.execute(boom, new AbortController().signal).catch(() => undefined);
    await breaker.execute(boom, new AbortController().signal).catch(() => undefined);
    expect(breaker.state).toBe('open');
  });
});

// A call admitted in one round (closed, then opened and closed again) settles late: its
// outcome belongs to the round it was admitted in, whichever path settles it.
describe('circuitBreaker: outcomes belong to the round that admitted the call', () => {
  const paths = {
    'the fast path': () => ({}),
    'the timed path (a listener)': () => ({ listen: true }),
    'a caller signal': () => ({ signal: new AbortController().signal }),
  };

  async function reopenedAndClosed(path: { listen?: boolean; signal?: AbortSignal }) {
    const clock = new FakeClock();
    const breaker = circuitBreaker({ strategy: consecutive(2), halfOpenAfter: 1_000, clock, registry: false });
    if (path.listen) breaker.onEvent(() => undefined);
    const settleLate: { fail: (e: Error) => void; succeed: () => void }[] = [];
    const late = Array.from({ length: 2 }, () =>
      breaker
        .execute(
          () =>
            new Promise((resolve, reject) => {
              settleLate.push({ fail: reject, succeed: () => resolve('late') });
            }),
          path.signal,
        )
        .catch(() => undefined),
    );
    await breaker.execute(boom, path.signal).catch(() => undefined);
    await breaker.execute(boom, path.signal).catch(() => undefined);
    expect(breaker.state).toBe('open');
    await clock.advance(1_000);
    await breaker.execute(ok, path.signal); // the probe closes it: a new closed round
    expect(breaker.state).toBe('closed');
    return { breaker, late, settleLate, signal: path.signal };
  }

  for (const [name, path] of Object.entries(paths)) {
    it(`a stale failure does not count in the next closed round (${name})`, async () => {
      const { breaker, late, settleLate, signal } = await reopenedAndClosed(path());
      settleLate[0]!.fail(new Error('stale'));
      await late[0];
      await breaker.execute(boom, signal).catch(() => undefined); // one fresh failure of two
      expect(breaker.state).toBe('closed');
      await breaker.execute(boom, signal).catch(() => undefined);
      expect(breaker.state).toBe('open');
    });

    it(`a stale success does not reset the next round's count (${name})`, async () => {
      const { breaker, late, settleLate, signal } = await reopenedAndClosed(path());
      await breaker.execute(boom, signal).catch(() => undefined);
      settleLate[1]!.succeed();
      await late[1];
      await breaker.execute(boom, signal).catch(() => undefined);
      expect(breaker.state).toBe('open');
    });
  }

  it('reset() starts a new round: calls in flight before it do not count after it', async () => {
    const breaker = circuitBreaker({ strategy: consecutive(2), registry: false });
    let fail = (_: Error) => {};
    const late = breaker.execute(() => new Promise((_, reject) => (fail = reject))).catch(() => undefined);
    breaker.reset();
    fail(new Error('from before the reset'));
    await late;
    await breaker.execute(boom).catch(() => undefined);
    expect(breaker.state).toBe('closed');
  });

  it('a call that settles while the breaker is open is not recorded', async () => {
    const breaker = circuitBreaker({ strategy: consecutive(2), registry: false });
    let fail = (_: Error) => {};
    const slow = breaker.execute(() => new Promise((_, reject) => (fail = reject)));
    await breaker.execute(boom).catch(() => undefined);
    await breaker.execute(boom).catch(() => undefined);
    fail(new Error('late'));
    await slow.catch(() => undefined);
    expect(breaker.snapshot().window).toEqual({ kind: 'consecutive', failures: 0 });
  });
});
