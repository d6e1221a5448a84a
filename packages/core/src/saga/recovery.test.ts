/**
 * recover() against what lies beside a crashed saga's log (failed logs, live sagas) and
 * against a second recovery: every recoverable log is reached, and each step is
 * compensated once, however long compensation takes.
 */
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
import { SagaError } from '../errors/errors.js';
import { memoryStore } from '../store/memory.js';
import type { Store } from '../store/store.js';
import { deferred } from '../testing/deferred.js';
import type { SagaLogState } from './log.js';
import { saga } from './saga.js';

const fixed = () => 0.5;
const RECOVER_AFTER_MS = 1_000;

/** A log as a process that died at `at` left it: `a` and `b` completed, `c` started. */
function crashedLog(id: string, at = 0, phase: SagaLogState['phase'] = 'running'): SagaLogState {
  return {
    v: 1,
    id,
    phase,
    input: null,
    owner: `dead-${id}`,
    startedAt: 0,
    at,
    steps: [
      { name: 'a', s: 'completed', r: 'A' },
      { name: 'b', s: 'completed', r: 'B' },
      { name: 'c', s: 'started' },
    ],
  };
}

const put = (store: Store, log: SagaLogState) =>
  store.set(`{saga:order|${log.id}}`, log, Number.POSITIVE_INFINITY, log.at);

/** The saga `order` (steps a, b, c), logging each compensation in `undone`. */
function order(
  store: Store,
  clock: FakeClock,
  undone: string[],
  options: { maxRecoverPerCall?: number; slowUndo?: (step: string) => Promise<void> | undefined } = {},
) {
  const s = saga('order', {
    store,
    clock,
    random: fixed,
    recoverAfterMs: RECOVER_AFTER_MS,
    ...(options.maxRecoverPerCall === undefined ? {} : { maxRecoverPerCall: options.maxRecoverPerCall }),
  });
  for (const name of ['a', 'b', 'c']) {
    s.step({
      name,
      run: () => name.toUpperCase(),
      compensate: async () => {
        await options.slowUndo?.(name);
        undone.push(name);
      },
    });
  }
  return s;
}

describe('recover() reaches every recoverable log', () => {
  it('recovers a crashed saga behind 5 failed and 5 live logs with maxRecoverPerCall 5', async () => {
    const clock = new FakeClock();
    const store = memoryStore();
    for (let i = 0; i < 5; i++) await put(store, crashedLog(`failed-${i}`, 0, 'failed'));
    await clock.advance(RECOVER_AFTER_MS);
    for (let i = 0; i < 5; i++) await put(store, crashedLog(`live-${i}`, clock.now()));
    await put(store, crashedLog('crashed', 0));
    const undone: string[] = [];
    const reports = await order(store, clock, undone, { maxRecoverPerCall: 5 }).recover();
    expect(reports.map((r) => [r.id, r.status])).toEqual([['crashed', 'compensated']]);
    expect(undone).toEqual(['c', 'b', 'a']);
  });

  it('takes over at most maxRecoverPerCall logs per call, and the rest on the next call', async () => {
    const clock = new FakeClock();
    const store = memoryStore();
    for (let i = 0; i < 30; i++) await put(store, crashedLog(`failed-${i}`, 0, 'failed'));
    for (let i = 0; i < 3; i++) await put(store, crashedLog(`crashed-${i}`, 0));
    await clock.advance(RECOVER_AFTER_MS);
    const recovering = order(store, clock, [], { maxRecoverPerCall: 2 });
    expect((await recovering.recover()).length).toBe(2);
    expect((await recovering.recover()).length).toBe(1);
    expect(await recovering.recover()).toEqual([]);
    expect((await store.keys('{saga:order|', clock.now())).length).toBe(30);
  });

  it('leaves alone a key under its prefix that is not a saga log', async () => {
    const clock = new FakeClock();
    const store = memoryStore();
    await store.set('{saga:order|not-a-log}', { hits: 3 }, Number.POSITIVE_INFINITY, 0);
    await put(store, crashedLog('crashed', 0));
    await clock.advance(RECOVER_AFTER_MS);
    const reports = await order(store, clock, []).recover();
    expect(reports.map((r) => r.id)).toEqual(['crashed']);
    expect(await store.get('{saga:order|not-a-log}', clock.now())).toEqual({ hits: 3 });
  });
});

describe('a recovery holds its claim while it compensates', () => {
  it('keeps a recovery slower than recoverAfterMs from being claimed again: each step is compensated once', async () => {
    const clock = new FakeClock();
    const store = memoryStore();
    await put(store, crashedLog('x', 0));
    await clock.advance(RECOVER_AFTER_MS);
    const undone: string[] = [];
    const slow = order(store, clock, undone, { slowUndo: () => clock.sleep(3 * RECOVER_AFTER_MS) });
    const first = slow.recover();
    await clock.advance(2 * RECOVER_AFTER_MS);
    expect(await order(store, clock, undone).recover()).toEqual([]);
    await clock.advance(10 * RECOVER_AFTER_MS);
    expect((await first).map((r) => r.status)).toEqual(['compensated']);
    expect(undone).toEqual(['c', 'b', 'a']);
  });

  it('stops before its next compensation once another recovery took the log over (a paused process)', async () => {
    const clock = new FakeClock();
    const store = memoryStore();
    await put(store, crashedLog('x', 0));
    await clock.advance(RECOVER_AFTER_MS);
    const undone: string[] = [];
    const stuck = deferred();
    // A recovery whose process then pauses: its clock stands still, so it renews nothing.
    const paused = order(store, new FakeClock(clock.now()), undone, {
      slowUndo: (step) => (step === 'c' ? stuck.promise : undefined),
    });
    const first = paused.recover();
    await clock.advance(RECOVER_AFTER_MS);
    const [second] = await order(store, clock, undone).recover();
    expect(second?.status).toBe('compensated');
    stuck.resolve();
    const [report] = await first;
    expect(undone).toEqual(['c', 'b', 'a', 'c']); // its compensation of c was already running
    expect(report?.status).toBe('cancelled');
    expect(report?.error).toBeInstanceOf(SagaError);
    expect(report?.steps.map((s) => s.status)).toEqual(['completed', 'completed', 'compensated']);
  });
});

describe('a live execution holds its log', () => {
  it('is not taken over by recover() while a step runs longer than recoverAfterMs', async () => {
    const clock = new FakeClock();
    const store = memoryStore();
    const undone: string[] = [];
    const s = saga('order', { store, clock, random: fixed, recoverAfterMs: RECOVER_AFTER_MS })
      .step({ name: 'a', run: () => 'A', compensate: () => void undone.push('a') })
      .step({ name: 'b', run: () => clock.sleep(5 * RECOVER_AFTER_MS).then(() => 'B') });
    const running = s.execute(null, { id: 'x' });
    for (let t = 0; t < 4; t++) {
      await clock.advance(RECOVER_AFTER_MS);
      expect(await s.recover()).toEqual([]);
    }
    await clock.advance(RECOVER_AFTER_MS);
    expect((await running).status).toBe('completed');
    expect(undone).toEqual([]);
    expect(clock.pendingTimers).toBe(0);
  });

  it('is not evicted by a flood of other keys in a bounded store: what ran is still compensated', async () => {
    const clock = new FakeClock();
    const store = memoryStore({ maxKeys: 10 });
    const undone: unknown[] = [];
    const shipped = deferred<never>();
    const s = saga('pay', { store, clock, random: fixed })
      .step({ name: 'charge', run: () => 'ch-1', compensate: (_c, charge) => void undone.push(charge) })
      .step({ name: 'ship', run: () => shipped.promise });
    const running = s.execute(null, { id: 'o-1' });
    await clock.advance(0);
    for (let i = 0; i < 20; i++) await store.apply(`{other|${i}}`, touch, null, clock.now());
    shipped.reject(new Error('out of stock'));
    expect(await running).toMatchObject({ status: 'compensated', failedStep: 'ship' });
    expect(undone).toEqual(['ch-1']);
  });
});

const touch = { name: 'probe.touch', params: null, apply: () => ({ state: 1, output: null, ttlMs: 60_000 }) };

describe('a store outage while compensating', () => {
  /** A store whose writes fail while `down` is true. */
  function flaky(inner: Store) {
    const state = { down: false };
    const store: Store = {
      apply: (...args) => (state.down ? Promise.reject(new Error('store down')) : inner.apply(...args)),
      applyAll: (...args) => inner.applyAll(...args),
      get: (...args) => inner.get(...args),
      set: (...args) => inner.set(...args),
      delete: (...args) => inner.delete(...args),
      keys: (...args) => inner.keys(...args),
    };
    return { store, state };
  }

  it('does not stop compensation while the lease is certainly its own, and reports each failed write', async () => {
    const clock = new FakeClock();
    const { store, state } = flaky(memoryStore());
    const undone: string[] = [];
    const s = saga('order', { store, clock, random: fixed, recoverAfterMs: RECOVER_AFTER_MS })
      .step({ name: 'a', run: () => 'A', compensate: () => void undone.push('a') })
      .step({
        name: 'b',
        run: () => {
          state.down = true;
          throw new Error('declined');
        },
      });
    const failures: unknown[] = [];
    s.onEvent((e) => e.type === 'log_failed' && failures.push(e.error));
    const report = await s.execute(null);
    expect(report.status).toBe('compensated');
    expect(undone).toEqual(['a']);
    expect(failures.length).toBeGreaterThan(0);
  });

  it('stops before the next compensation once the lease may have run out, leaving the log to recover()', async () => {
    const clock = new FakeClock();
    const inner = memoryStore();
    const { store, state } = flaky(inner);
    const undone: string[] = [];
    const s = saga('order', { store, clock, random: fixed, recoverAfterMs: RECOVER_AFTER_MS })
      .step({ name: 'a', run: () => 'A', compensate: () => void undone.push('a') })
      .step({
        name: 'b',
        run: () => 'B',
        compensate: async () => {
          if (undone.length === 0) {
            state.down = true; // for longer than the lease, while b is being undone
            await clock.sleep(2 * RECOVER_AFTER_MS);
          }
          undone.push('b');
        },
      })
      .step({ name: 'c', run: () => Promise.reject(new Error('declined')) });
    const running = s.execute(null, { id: 'x' });
    await clock.advance(2 * RECOVER_AFTER_MS);
    const report = await running;
    expect(undone).toEqual(['b']);
    expect(report.status).toBe('cancelled');
    expect(report.error).toBeInstanceOf(SagaError);
    state.down = false;
    await clock.advance(RECOVER_AFTER_MS);
    const [recovered] = await s.recover();
    expect(recovered?.status).toBe('compensated');
    expect(undone).toEqual(['b', 'b', 'a']);
  });
});
