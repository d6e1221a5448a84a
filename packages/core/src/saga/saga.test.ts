import { describe, expect, it } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
import { ConfigurationError, SagaError } from '../errors/errors.js';
import { pipeline } from '../pipeline/pipeline.js';
import { backoff } from '../retry/backoff.js';
import { retry } from '../retry/retry.js';
import { memoryStore } from '../store/memory.js';
import { deferred } from '../testing/deferred.js';
import { jsonRoundTripStore } from '../testing/json-round-trip-store.js';
import { timeout } from '../timeout/timeout.js';
import { SAGA_DEFAULTS } from './options.js';
import type { SagaEvent } from './report.js';
import { saga } from './saga.js';

const fixed = () => 0.5;

function fails(times: number, error = new Error('flaky')) {
  let calls = 0;
  return () => {
    calls++;
    if (calls <= times) throw error;
    return `ok after ${calls}`;
  };
}

describe('saga', () => {
  it('pins its defaults', () => {
    expect(SAGA_DEFAULTS).toEqual({
      recoverAfterMs: 300_000,
      logTtlMs: 604_800_000,
      maxRecoverPerCall: 1_000,
      compensationMaxAttempts: 3,
    });
  });

  it('runs steps in order, each seeing the input and earlier results, and reports them completed', async () => {
    const clock = new FakeClock(1_000);
    const seen: unknown[] = [];
    const s = saga<{ order: string }>('checkout', { clock, random: fixed })
      .step({
        name: 'reserve',
        run: async ({ input }) => {
          await clock.sleep(10);
          return `r-${input.order}`;
        },
      })
      .step({
        name: 'charge',
        run: ({ results }) => {
          seen.push({ ...results });
          return 'c-1';
        },
      });
    const done = s.execute({ order: 'o1' });
    await clock.advance(10);
    const report = await done;
    expect(report.status).toBe('completed');
    expect(report.results).toEqual({ reserve: 'r-o1', charge: 'c-1' });
    expect(seen).toEqual([{ reserve: 'r-o1' }]);
    expect(report.steps.map((step) => [step.name, step.status])).toEqual([
      ['reserve', 'completed'],
      ['charge', 'completed'],
    ]);
    expect(report.steps[0]!.run).toEqual({ startedAt: 1_000, finishedAt: 1_010, durationMs: 10 });
    expect(report.durationMs).toBe(10);
    expect(report.recovered).toBe(false);
  });

  it('compensates completed steps in reverse order on failure, skipping steps without compensate', async () => {
    const order: string[] = [];
    const boom = new Error('card declined');
    const report = await saga('checkout', { random: fixed })
      .step({ name: 'a', run: () => 'A', compensate: (_, result) => void order.push(`undo a(${result})`) })
      .step({ name: 'notify', run: () => 'N' })
      .step({ name: 'b', run: () => 'B', compensate: (_, result) => void order.push(`undo b(${result})`) })
      .step({
        name: 'charge',
        run: () => {
          throw boom;
        },
        compensate: () => void order.push('undo charge'),
      })
      .step({ name: 'ship', run: () => 'S' })
      .execute(undefined);
    expect(order).toEqual(['undo b(B)', 'undo a(A)']);
    expect(report.status).toBe('compensated');
    expect(report.failedStep).toBe('charge');
    expect(report.error).toBe(boom);
    expect(report.steps.map((step) => step.status)).toEqual([
      'compensated',
      'not_compensable',
      'compensated',
      'failed',
      'not_run',
    ]);
  });

  it('retries a failing compensation with its policy and reports it compensated', async () => {
    const clock = new FakeClock();
    const compensate = fails(2);
    const done = saga('s', { clock, random: fixed })
      .step({ name: 'a', run: () => 1, compensate })
      .step({ name: 'b', run: () => Promise.reject(new Error('x')) })
      .execute(null);
    await clock.advance(100); // default policy: 100 ms, then 200 ms
    await clock.advance(200);
    const report = await done;
    expect(report.status).toBe('compensated');
    expect(report.steps[0]!.compensation?.durationMs).toBe(300);
  });

  it('reports a compensation that still fails and runs the remaining compensations', async () => {
    const order: string[] = [];
    const broken = new Error('refund API down');
    const report = await saga('s', {
      random: fixed,
      compensationRetry: retry({ maxAttempts: 2, handle: () => true, backoff: backoff.constant(0) }),
    })
      .step({ name: 'a', run: () => 1, compensate: () => void order.push('undo a') })
      .step({
        name: 'b',
        run: () => 2,
        compensate: () => {
          order.push('try undo b');
          throw broken;
        },
      })
      .step({ name: 'c', run: () => Promise.reject(new Error('x')) })
      .execute(null);
    expect(order).toEqual(['try undo b', 'try undo b', 'undo a']);
    expect(report.status).toBe('compensation_failed');
    expect(report.steps[1]!.status).toBe('compensation_failed');
    expect((report.steps[1]!.error as Error).cause).toBe(broken);
    expect(report.steps[0]!.status).toBe('compensated');
  });

  it("retries a step's compensation with the step's own policy rather than the saga's", async () => {
    const attempts: number[] = [];
    const report = await saga('s', {
      random: fixed,
      compensationRetry: retry({ maxAttempts: 5, handle: () => true, backoff: backoff.constant(0) }),
    })
      .step({
        name: 'a',
        run: () => 1,
        compensationRetry: retry({ maxAttempts: 2, handle: () => true, backoff: backoff.constant(0) }),
        compensate: (context) => {
          attempts.push(context.attempt);
          throw new Error('still down');
        },
      })
      .step({ name: 'b', run: () => Promise.reject(new Error('x')) })
      .execute(null);
    expect(attempts).toEqual([1, 2]);
    expect(report.status).toBe('compensation_failed');
  });

  it("aborts a compensation attempt its compensationRetry's timeout gave up on, never the caller's cancel", async () => {
    const clock = new FakeClock();
    const controller = new AbortController();
    const signals: AbortSignal[] = [];
    const done = saga('s', {
      clock,
      random: fixed,
      compensationRetry: pipeline(
        retry({ maxAttempts: 2, handle: () => true, backoff: backoff.constant(10), clock }),
        timeout(1_000, { clock }),
      ),
    })
      .step({
        name: 'a',
        run: () => 1,
        compensate: ({ signal }) => {
          signals.push(signal);
          return signals.length === 1 ? new Promise<never>(() => {}) : 'refunded'; // the first hangs
        },
      })
      .step({
        name: 'b',
        run: ({ signal }) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
      })
      .execute(null, { signal: controller.signal });
    await clock.advance(10);
    controller.abort(new Error('user left'));
    await clock.advance(0);
    expect(signals.map((signal) => signal.aborted)).toEqual([false]); // the caller's cancel undoes, never stops undoing
    await clock.advance(1_010);
    const report = await done;
    expect(report.status).toBe('cancelled');
    expect(report.steps[0]!.status).toBe('compensated');
    // The attempt the timeout gave up on is told to stop before the retry runs the next one.
    expect(signals.map((signal) => signal.aborted)).toEqual([true, false]);
  });

  it('retries a step with its own policy, passing the attempt number', async () => {
    const attempts: number[] = [];
    const report = await saga('s', { random: fixed })
      .step({
        name: 'a',
        retry: retry({ maxAttempts: 3, handle: () => true, backoff: backoff.constant(0) }),
        run: ({ attempt }) => {
          attempts.push(attempt);
          if (attempt < 2) throw new Error('flaky');
          return attempt;
        },
      })
      .execute(null);
    expect(attempts).toEqual([1, 2]);
    expect(report.results).toEqual({ a: 2 });
  });

  it('stops before the next step when cancelled and compensates what ran', async () => {
    const clock = new FakeClock();
    const controller = new AbortController();
    const order: string[] = [];
    const done = saga('s', { clock, random: fixed })
      .step({ name: 'a', run: () => 1, compensate: () => void order.push('undo a') })
      .step({
        name: 'b',
        run: async () => {
          await clock.sleep(50);
          return 2;
        },
        compensate: () => void order.push('undo b'),
      })
      .step({ name: 'c', run: () => void order.push('ran c') })
      .execute(null, { signal: controller.signal });
    await clock.advance(10);
    controller.abort(new Error('user left'));
    await clock.advance(50);
    const report = await done;
    expect(report.status).toBe('cancelled');
    expect(order).toEqual(['undo b', 'undo a']);
    expect((report.error as Error).message).toBe('user left');
    expect(report.steps[2]!.status).toBe('not_run');
  });

  it('reports cancelled when the signal aborts a running step, passing the signal through its retry', async () => {
    const clock = new FakeClock();
    const controller = new AbortController();
    const attempts: number[] = [];
    const order: string[] = [];
    const done = saga('s', { clock, random: fixed })
      .step({ name: 'a', run: () => 1, compensate: () => void order.push('undo a') })
      .step({
        name: 'b',
        retry: retry({ maxAttempts: 5, handle: () => true, backoff: backoff.constant(100), clock }),
        run: ({ signal, attempt }) => {
          attempts.push(attempt);
          return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
        },
      })
      .execute(null, { signal: controller.signal });
    await clock.advance(10);
    controller.abort(new Error('user left'));
    await clock.advance(1_000);
    const report = await done;
    expect(report.status).toBe('cancelled');
    expect(report.failedStep).toBe('b');
    expect(attempts).toEqual([1]);
    expect(order).toEqual(['undo a']);
  });

  it('compensates a step that timed out or was cancelled while it ran, with no result: its effect may still land', async () => {
    const clock = new FakeClock();
    const undone: string[] = [];
    const hung = () => new Promise<never>(() => {});
    const timedOut = await (async () => {
      const done = saga('t', { clock, random: fixed })
        .step({ name: 'a', run: () => 'A', compensate: (_, r) => void undone.push(`undo a(${String(r)})`) })
        .step({
          name: 'b',
          retry: timeout(100, { clock, strategy: 'aggressive' }),
          run: hung,
          compensate: (_, r) => void undone.push(`undo b(${String(r)})`),
        })
        .execute(null);
      await clock.advance(100);
      return done;
    })();
    expect(timedOut.status).toBe('compensated');
    expect(timedOut.failedStep).toBe('b');
    expect(undone).toEqual(['undo b(undefined)', 'undo a(A)']);
    expect(timedOut.steps.map((step) => step.status)).toEqual(['compensated', 'compensated']);

    undone.length = 0;
    const controller = new AbortController();
    const done = saga('c', { clock, random: fixed })
      .step({ name: 'a', run: () => 'A', compensate: (_, r) => void undone.push(`undo a(${String(r)})`) })
      .step({
        name: 'b',
        run: ({ signal }) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
        compensate: (_, r) => void undone.push(`undo b(${String(r)})`),
      })
      .execute(null, { signal: controller.signal });
    await clock.advance(10);
    controller.abort(new Error('user left'));
    const cancelled = await done;
    expect(cancelled.status).toBe('cancelled');
    expect(undone).toEqual(['undo b(undefined)', 'undo a(A)']);
  });

  it('compensates a step whose connection broke while it ran (a network error), with no result: the far side may have done it', async () => {
    const undone: string[] = [];
    const report = await saga('n', { clock: new FakeClock(), random: fixed })
      .step({ name: 'a', run: () => 'A', compensate: (_, r) => void undone.push(`undo a(${String(r)})`) })
      .step({
        name: 'b',
        run: () => {
          throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
        },
        compensate: (_, r) => void undone.push(`undo b(${String(r)})`),
      })
      .execute(null);
    expect(report.status).toBe('compensated');
    expect(undone).toEqual(['undo b(undefined)', 'undo a(A)']);
  });

  it('does not compensate a step that failed for good (its error is not a timeout): it did not take effect', async () => {
    const undone: string[] = [];
    const report = await saga('f', { clock: new FakeClock(), random: fixed })
      .step({ name: 'a', run: () => 'A', compensate: () => void undone.push('undo a') })
      .step({
        name: 'b',
        run: () => {
          throw new Error('card declined');
        },
        compensate: () => void undone.push('undo b'),
      })
      .execute(null);
    expect(report.status).toBe('compensated');
    expect(undone).toEqual(['undo a']);
    expect(report.steps.map((step) => step.status)).toEqual(['compensated', 'failed']);
  });

  it('compensates a step whose last attempt failed for good after an earlier one was cut off', async () => {
    const clock = new FakeClock();
    const lost = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    const declined = Object.assign(new Error('insufficient funds'), { status: 400 });
    const undone: unknown[] = [];
    for (const [retryPolicy, first] of [
      [retry({ maxAttempts: 3, clock }), () => Promise.reject(lost)],
      [pipeline(retry({ maxAttempts: 3, clock }), timeout(100, { clock })), () => new Promise(() => {})],
    ] as const) {
      let calls = 0;
      const running = saga('pay', { clock, random: fixed })
        .step({
          name: 'charge',
          retry: retryPolicy,
          run: () => (++calls === 1 ? first() : Promise.reject(declined)),
          compensate: (_context, charge) => void undone.push(charge),
        })
        .execute(null);
      await clock.advance(10_000);
      expect(await running).toMatchObject({
        status: 'compensated',
        steps: [{ status: 'compensated', error: declined }],
      });
    }
    expect(undone).toEqual([undefined, undefined]);
  });

  it('runs nothing when the signal is already aborted', async () => {
    let ran = false;
    const report = await saga('s', { random: fixed })
      .step({ name: 'a', run: () => void (ran = true) })
      .execute(null, { signal: AbortSignal.abort() });
    expect(ran).toBe(false);
    expect(report.status).toBe('cancelled');
  });

  it('runs the steps it started with when a step adds another (re-entrant step()), which the next execution runs', async () => {
    const store = memoryStore();
    const s = saga('grows', { store });
    s.step({
      name: 'a',
      run: () => {
        if (!s.steps.includes('b')) s.step({ name: 'b', run: () => 'b' });
        return 'a';
      },
      compensate: () => {},
    });
    const first = await s.execute(undefined);
    expect(first).toMatchObject({ status: 'completed', results: { a: 'a' } });
    expect(first.steps.map((step) => step.name)).toEqual(['a']);
    expect(await store.keys('{saga:', 0)).toEqual([]); // finished: no log left behind
    expect((await s.execute(undefined)).results).toEqual({ a: 'a', b: 'b' });
  });

  it('reports audit events in order, and builds none without listeners', async () => {
    const s = saga('s', { random: fixed })
      .step({ name: 'a', run: () => 1, compensate: () => undefined })
      .step({ name: 'b', run: () => Promise.reject(new Error('no')) });
    const events: SagaEvent[] = [];
    const off = s.onEvent((e) => events.push(e));
    await s.execute(null, { id: 'run-1' });
    off();
    expect(events.map((e) => e.type)).toEqual([
      'step_started',
      'step_completed',
      'step_started',
      'step_failed',
      'compensation_started',
      'compensation_completed',
      'finished',
    ]);
    expect(events.every((e) => e.id === 'run-1' && e.saga === 's')).toBe(true);
    await s.execute(null);
    expect(events).toHaveLength(7);
  });

  it('rejects misuse with SagaError and bad options with ConfigurationError', async () => {
    await expect(saga('empty').execute(null)).rejects.toBeInstanceOf(SagaError);
    const s = saga('s').step({ name: 'a', run: () => 1 });
    expect(() => s.step({ name: 'a', run: () => 2 })).toThrow(/duplicate step name "a"/);
    expect(() => s.step({ name: '', run: 5 } as never)).toThrow(SagaError);
    await expect(s.execute(null, { id: '' })).rejects.toBeInstanceOf(SagaError);
    await expect(s.execute(null, { id: 'x'.repeat(1_025) })).rejects.toThrow(/id must be a string of 1 to 1 024/);
    expect((await s.execute(null, { id: 'x'.repeat(1_024) })).status).toBe('completed');
    await expect(s.recover()).rejects.toThrow(/needs a store/);
    expect(() => saga('s', { recoverAfterMs: -1, logTtlMs: 0 })).toThrow(ConfigurationError);
    await expect(s.execute(null, null as never)).rejects.toThrow(/options must be an object/);
  });

  it('refuses the log options without a store, and a log that would expire before recover() may take it', () => {
    for (const option of ['recoverAfterMs', 'logTtlMs', 'maxRecoverPerCall', 'keyPrefix']) {
      const value = option === 'keyPrefix' ? 'orders' : 600_000;
      expect(() => saga('s', { [option]: value })).toThrow(
        `${option}: received ${JSON.stringify(value)}, expected none without a store`,
      );
    }
    // The default recoverAfterMs is 5 minutes: a crashed saga's log must outlive it.
    expect(() => saga('s', { store: memoryStore(), logTtlMs: 60_000 })).toThrow(
      'logTtlMs: received 60000, expected more than recoverAfterMs',
    );
    expect(() => saga('s', { store: memoryStore(), logTtlMs: 60_000, recoverAfterMs: 10_000 })).not.toThrow();
  });

  it('names no failed step when none ran (an input JSON cannot hold, a store down at the start)', async () => {
    const s = saga('order', { store: memoryStore() }).step({ name: 'reserve', run: () => 1, compensate: () => {} });
    const report = await s.execute({ amount: 10n });
    expect(report.status).toBe('compensated');
    expect(report.failedStep).toBeUndefined();
    expect(report.steps.map((r) => r.status)).toEqual(['not_run']);
  });

  it('rejects a misspelt execute option instead of running the saga without it (a signal it would ignore)', async () => {
    let ran = false;
    const s = saga('m', { clock: new FakeClock() }).step({
      name: 'a',
      run: () => {
        ran = true;
      },
    });
    await expect(s.execute({}, { signl: AbortSignal.abort() } as never)).rejects.toThrow(
      new SagaError('Saga "m": unknown execute option "signl" (the options are id and signal)'),
    );
    expect(ran).toBe(false);
  });

  it('rejects a step with a misspelt key instead of silently running it without its compensation', () => {
    const step = { name: 'charge', run: () => 1, compensation: () => {} };
    expect(() => saga('s').step(step as never)).toThrow(SagaError);
    expect(() => saga('s').step(step as never)).toThrow(/compensation: .*did you mean compensate\?/);
  });

  it('refuses a step named __proto__, which cannot be a key of results (compensate would get Object.prototype)', () => {
    expect(() => saga('s').step({ name: '__proto__', run: () => 42 })).toThrow(/name must not be __proto__/);
  });
});

describe('saga cancelled while its last step runs', () => {
  it('completes once the last step succeeded: what ran is done, and an irreversible last step could not be undone', async () => {
    // A checkout whose charge (the last step, no compensate) succeeded after its caller gave up:
    // undoing the reservation would leave a charged customer without the stock.
    const clock = new FakeClock();
    const controller = new AbortController();
    const released: unknown[] = [];
    const done = saga<number>('checkout', { clock })
      .step({
        name: 'reserve',
        run: () => 'reservation-1',
        compensate: (_context, result) => {
          released.push(result);
        },
      })
      .step({ name: 'charge', run: () => clock.sleep(10).then(() => 'charge-1') })
      .execute(1, { signal: controller.signal });
    clock.setTimeout(() => controller.abort(new Error('caller left')), 5);
    await clock.runAll();
    const report = await done;
    expect(report.status).toBe('completed');
    expect(report.results).toEqual({ reserve: 'reservation-1', charge: 'charge-1' });
    expect(released).toEqual([]);
  });
});

describe('saga with a store', () => {
  const steps = (order: string[], never?: Promise<never>) =>
    [
      {
        name: 'reserve',
        run: () => ({ reservation: 7 }),
        compensate: (_: unknown, r: unknown) => void order.push(`release ${JSON.stringify(r)}`),
      },
      {
        name: 'charge',
        run: () => never ?? 'charged',
        compensate: (_: unknown, r: unknown) => void order.push(`refund ${String(r)}`),
      },
      { name: 'ship', run: () => 'shipped' },
    ] as const;

  it('writes the log before and after each step and deletes it when the saga completes', async () => {
    const clock = new FakeClock(5);
    const store = memoryStore();
    const snapshots: unknown[] = [];
    const s = saga('order', { store, clock, random: fixed })
      .step({ name: 'a', run: () => 'A' })
      .step({ name: 'b', run: async () => snapshots.push(await store.get('{saga:order|x}', clock.now())) });
    const report = await s.execute({ n: 1 }, { id: 'x' });
    expect(report.status).toBe('completed');
    expect(snapshots[0]).toMatchObject({
      id: 'x',
      phase: 'running',
      input: { n: 1 },
      steps: [
        { name: 'a', s: 'completed', r: 'A' },
        { name: 'b', s: 'started' },
      ],
    });
    expect(await store.keys('{saga:order|', clock.now())).toEqual([]);
  });

  it('refuses a second execution with an id in use, so the first keeps its log and undoes its own steps', async () => {
    const store = memoryStore();
    const order: string[] = [];
    const charging = deferred<never>();
    const s = saga('order', { store, random: fixed });
    for (const step of steps(order, charging.promise)) s.step(step);
    const first = s.execute({ customer: 'c1' }, { id: 'o-1' }); // waits in "charge"
    await Promise.resolve();
    await expect(s.execute({ customer: 'c1' }, { id: 'o-1' })).rejects.toThrow(
      new SagaError(
        'Saga "order": id "o-1" is in use (running, its log awaiting recover(), or a failed one kept for an operator until logTtlMs)',
      ),
    );
    charging.reject(new Error('card declined'));
    expect(await first).toMatchObject({ id: 'o-1', status: 'compensated' });
    expect(order).toEqual(['release {"reservation":7}']);
    expect(await store.keys('{saga:order|', 0)).toEqual([]);
    // Free again once the first finished.
    expect((await s.execute({ customer: 'c1' }, { id: 'o-1' })).status).toBe('compensated');
  });

  it('recovers a saga a crashed process left half done, with a new instance on the same store', async () => {
    const clock = new FakeClock();
    const store = memoryStore();
    const crashedOrder: string[] = [];
    // A process that dies runs no timers (it renews nothing): its own clock stands still.
    const crashed = saga('order', { store, clock: new FakeClock(), random: fixed, recoverAfterMs: 60_000 });
    for (const step of steps(crashedOrder, new Promise<never>(() => {}))) crashed.step(step);
    void crashed.execute({ customer: 'c1' }, { id: 'o-9' }); // "charge" never resolves: the process dies here
    await clock.advance(1);

    const order: string[] = [];
    const fresh = saga('order', { store, clock, random: fixed, recoverAfterMs: 60_000 });
    for (const step of steps(order)) fresh.step(step);
    expect(await fresh.recover()).toEqual([]); // not stale yet: the first process may be alive
    await clock.advance(60_000);
    const [report, ...others] = await fresh.recover();
    expect(others).toEqual([]);
    expect(report).toMatchObject({ id: 'o-9', status: 'compensated', recovered: true });
    expect(order).toEqual(['refund undefined', 'release {"reservation":7}']);
    expect(report!.steps.map((st) => [st.name, st.status, st.interrupted ?? false])).toEqual([
      ['reserve', 'compensated', false],
      ['charge', 'compensated', true],
      ['ship', 'not_run', false],
    ]);
    expect(crashedOrder).toEqual([]);
    expect(await store.keys('{saga:order|', clock.now())).toEqual([]);
    expect(await fresh.recover()).toEqual([]);
  });

  it("shares its logs with a saga of the same name on the store (another service's), and not with one of its own keyPrefix", async () => {
    const clock = new FakeClock();
    const store = memoryStore();
    const crashed = saga('checkout', { store, clock: new FakeClock() });
    for (const step of steps([], new Promise<never>(() => {}))) crashed.step(step);
    void crashed.execute({}, { id: 'o-1' });
    await clock.advance(1);
    const undone: unknown[] = [];
    const other = (keyPrefix?: string) =>
      saga('checkout', { store, clock, ...(keyPrefix && { keyPrefix }) }).step({
        name: 'reserve',
        run: () => ({ room: 1 }),
        compensate: (_, r) => void undone.push(r),
      });
    await clock.advance(SAGA_DEFAULTS.recoverAfterMs);
    expect(await other('hotel').recover()).toEqual([]);
    const [report] = await other().recover();
    expect(undone).toEqual([{ reservation: 7 }]); // its own compensation, given the other service's result
    expect(report?.status).toBe('compensation_failed'); // it has no "charge" step
  });

  it('stops an execution paused past recoverAfterMs whose log recover() took over, leaving compensation to it', async () => {
    const clock = new FakeClock();
    const store = memoryStore();
    const order: string[] = [];
    const resume = deferred<string>();
    const define = (paused: boolean) =>
      // A paused process (a long GC pause, a frozen VM) renews nothing: its clock stands still.
      saga('order', { store, clock: paused ? new FakeClock() : clock, random: fixed, recoverAfterMs: 1_000 })
        .step({ name: 'a', run: () => 'A', compensate: () => void order.push(paused ? 'paused undo a' : 'undo a') })
        .step({
          name: 'b',
          run: () => (paused ? resume.promise : 'B'),
          compensate: () => void order.push(paused ? 'paused undo b' : 'undo b'),
        })
        .step({ name: 'c', run: () => void order.push('ran c') });
    const paused = define(true).execute(null, { id: 'x' });
    await clock.advance(1_000);
    const [recovered] = await define(false).recover();
    expect(recovered?.status).toBe('compensated');
    resume.resolve('B');
    const report = await paused;
    expect(report.status).toBe('cancelled');
    expect(report.error).toBeInstanceOf(SagaError);
    expect(order).toEqual(['undo b', 'undo a']);
  });

  it('closes a log whose every step completed as completed, without compensating', async () => {
    const clock = new FakeClock();
    const store = memoryStore();
    await store.set(
      '{saga:order|done}',
      {
        v: 1,
        id: 'done',
        phase: 'running',
        input: null,
        owner: 'dead',
        startedAt: 0,
        at: 0,
        steps: [
          { name: 'reserve', s: 'completed', r: 1 },
          { name: 'charge', s: 'completed', r: 2 },
          { name: 'ship', s: 'completed', r: 3 },
        ],
      },
      Number.POSITIVE_INFINITY,
      0,
    );
    const order: string[] = [];
    const s = saga('order', { store, clock, random: fixed, recoverAfterMs: 10 });
    for (const step of steps(order)) s.step(step);
    await clock.advance(10);
    const [report] = await s.recover();
    expect(report?.status).toBe('completed');
    expect(order).toEqual([]);
  });

  it('recovers from a crash mid-compensation: retries a failed compensation, never undoes a step whose run failed', async () => {
    const clock = new FakeClock();
    const store = memoryStore();
    await store.set(
      '{saga:trip|t1}',
      {
        v: 1,
        id: 't1',
        phase: 'compensating',
        input: null,
        owner: 'dead',
        startedAt: 0,
        at: 0,
        steps: [
          { name: 'flight', s: 'completed', r: 'F' },
          { name: 'hotel', s: 'compensation_failed', r: 'H' },
          { name: 'car', s: 'failed' },
        ],
      },
      Number.POSITIVE_INFINITY,
      0,
    );
    const order: string[] = [];
    const s = saga('trip', { store, clock, random: fixed, recoverAfterMs: 10 });
    for (const name of ['flight', 'hotel', 'car', 'insurance']) {
      s.step({ name, run: () => name, compensate: (_, r) => void order.push(`undo ${name}(${String(r)})`) });
    }
    await clock.advance(10);
    const [report] = await s.recover();
    expect(order).toEqual(['undo hotel(H)', 'undo flight(F)']);
    expect(report?.status).toBe('compensated');
    expect(report?.steps.map((step) => step.status)).toEqual(['compensated', 'compensated', 'failed', 'not_run']);
  });

  it('keeps the log of a saga whose compensation failed, and does not recover it again', async () => {
    const clock = new FakeClock();
    const store = memoryStore();
    const s = saga('pay', {
      store,
      clock,
      random: fixed,
      recoverAfterMs: 10,
      compensationRetry: retry({ maxAttempts: 1, clock }),
    })
      .step({
        name: 'a',
        run: () => 1,
        compensate: () => {
          throw new Error('cannot undo');
        },
      })
      .step({ name: 'b', run: () => Promise.reject(new Error('x')) });
    const report = await s.execute(null, { id: 'p1' });
    expect(report.status).toBe('compensation_failed');
    expect(await store.get('{saga:pay|p1}', clock.now())).toMatchObject({ phase: 'failed' });
    await clock.advance(1_000);
    expect(await s.recover()).toEqual([]);
  });

  it('does not run a step whose "started" entry could not be written, and compensates earlier steps', async () => {
    const clock = new FakeClock();
    const inner = memoryStore();
    let writes = 0;
    const store = {
      ...inner,
      keys: inner.keys.bind(inner),
      get: inner.get.bind(inner),
      set: inner.set.bind(inner),
      delete: inner.delete.bind(inner),
      applyAll: inner.applyAll.bind(inner),
      apply: ((...args: Parameters<typeof inner.apply>) => {
        writes++;
        return writes === 4 ? Promise.reject(new Error('store down')) : inner.apply(...args);
      }) as typeof inner.apply,
    };
    const order: string[] = [];
    const report = await saga('s', { store, clock, random: fixed })
      .step({ name: 'a', run: () => 1, compensate: () => void order.push('undo a') })
      .step({ name: 'b', run: () => void order.push('ran b') })
      .execute(null);
    expect(order).toEqual(['undo a']);
    expect(report.status).toBe('compensated');
    expect((report.error as Error).message).toBe('store down');
  });

  describe('values JSON changes or cannot hold', () => {
    const at = new Date(Date.UTC(2024, 0, 2));

    it('logs an input and results in their JSON form (a Date as its ISO text), so a JSON store completes the saga', async () => {
      for (const store of [memoryStore(), jsonRoundTripStore(memoryStore())]) {
        const clock = new FakeClock();
        const logged: unknown[] = [];
        const s = saga<{ at: Date }>('dated', { store, clock, random: fixed })
          .step({ name: 'book', run: ({ input }) => ({ at: input.at }) })
          .step({ name: 'peek', run: async () => void logged.push(await store.get('{saga:dated|x}', clock.now())) });
        const report = await s.execute({ at }, { id: 'x' });
        expect(report.status).toBe('completed');
        expect(report.results.book).toEqual({ at }); // the run itself keeps the value as returned
        expect(logged[0]).toMatchObject({
          input: { at: '2024-01-02T00:00:00.000Z' },
          steps: [
            { name: 'book', s: 'completed', r: { at: '2024-01-02T00:00:00.000Z' } },
            { name: 'peek', s: 'started' },
          ],
        });
        expect(await store.keys('{saga:dated|', clock.now())).toEqual([]);
      }
    });

    it('compensates a step whose result JSON cannot hold (a BigInt), naming it, and leaves no log behind', async () => {
      const store = memoryStore();
      const clock = new FakeClock();
      const undone: string[] = [];
      const report = await saga('big', { store, clock, random: fixed })
        .step({ name: 'charge', run: () => ({ cents: 10n }), compensate: () => void undone.push('refund') })
        .execute(null);
      expect(report).toMatchObject({ status: 'compensated', failedStep: 'charge' });
      expect((report.error as Error).message).toMatch(/step "charge" ran, but its result cannot be recorded.*BigInt/);
      expect(undone).toEqual(['refund']);
      expect(await store.keys('{saga:big|', clock.now())).toEqual([]);
    });

    it('without a store, keeps a result JSON cannot hold (a cycle, a BigInt) and completes', async () => {
      const conn: Record<string, unknown> = { cents: 10n };
      conn.self = conn;
      const undone: string[] = [];
      const report = await saga('in-memory', { clock: new FakeClock(), random: fixed })
        .step({ name: 'open', run: () => conn, compensate: () => void undone.push('close') })
        .step({ name: 'use', run: ({ results }) => results.open === conn })
        .execute(null);
      expect(report).toMatchObject({ status: 'completed', results: { open: conn, use: true } });
      expect(undone).toEqual([]);
    });

    it('runs nothing when the input JSON cannot hold, and says why', async () => {
      const ran: string[] = [];
      const report = await saga('big', { store: memoryStore(), clock: new FakeClock(), random: fixed })
        .step({ name: 'a', run: () => void ran.push('a') })
        .execute({ cents: 10n });
      expect(report.status).toBe('compensated');
      expect((report.error as Error).message).toMatch(/input cannot be recorded.*BigInt/);
      expect(ran).toEqual([]);
    });
  });
});
