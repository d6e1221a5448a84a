import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it, vi } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
import {
  BulkheadRejectedError,
  ConfigurationError,
  IsolatedCircuitError,
  isBrokenCircuitError,
  StoreUnavailableError,
} from '../errors/errors.js';
import { memoryStore } from '../store/memory.js';
import type { Store } from '../store/store.js';
import { deferred } from '../testing/deferred.js';
import { jsonRoundTripStore } from '../testing/json-round-trip-store.js';
import { storeOver } from '../testing/store-over.js';
import { circuitBreaker } from './breaker.js';
import { BreakerRegistry } from './registry.js';
import { SharedCircuitBreaker } from './shared.js';
import { consecutive } from './strategy.js';

const fail = () => Promise.reject(new Error('down'));
const settle = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (error: unknown) => error,
  );

function pair(options: { halfOpenAfter?: number } = {}) {
  const clock = new FakeClock();
  const store = memoryStore();
  const registry = new BreakerRegistry();
  const make = () =>
    circuitBreaker({
      store,
      name: 'payments',
      strategy: consecutive(2),
      halfOpenAfter: options.halfOpenAfter ?? 1_000,
      clock,
      registry,
    });
  return { clock, store, registry, a: make(), b: make() };
}

describe('circuitBreaker({ store }) (shared state)', () => {
  it('returns a SharedCircuitBreaker keyed by name', () => {
    const { a } = pair();
    expect(a).toBeInstanceOf(SharedCircuitBreaker);
    expect(a.key).toBe('{breaker|payments}');
    expect(a.state).toBe('closed');
  });

  it('opens every breaker on the same store and key when failures cross the threshold', async () => {
    const { a, b } = pair();
    await settle(a.execute(fail));
    await settle(b.execute(fail)); // the second failure in a row, counted across both
    let ran = false;
    const error = await settle(
      a.execute(() => {
        ran = true;
      }),
    );
    expect(ran).toBe(false);
    expect(isBrokenCircuitError(error)).toBe(true);
    expect((error as { retryAfterMs: number }).retryAfterMs).toBe(1_000);
    expect([a.state, b.state]).toEqual(['open', 'open']);
  });

  it('consults a memory store of another copy of core on every call, as its own', async () => {
    const copy = (await import('../store/memory.js?copy' as string)) as typeof import('../store/memory.js');
    const store = copy.memoryStore();
    const apply = vi.spyOn(store, 'apply');
    const make = () =>
      circuitBreaker({ store, name: 'payments', strategy: consecutive(2), clock: new FakeClock(), registry: false });
    const [a, b] = [make(), make()];
    await settle(a.execute(fail));
    await settle(b.execute(fail));
    expect(apply).toHaveBeenCalledTimes(4); // admit and record, per call: no syncing copy of the state
    expect(isBrokenCircuitError(await settle(a.execute(fail)))).toBe(true);
  });

  it('lets one probe through after halfOpenAfter and closes for everyone when it succeeds', async () => {
    const { a, b, clock } = pair();
    await settle(a.execute(fail));
    await settle(a.execute(fail));
    await clock.advance(1_000);
    let release!: () => void;
    const probe = b.execute(() => new Promise<string>((resolve) => (release = () => resolve('ok'))));
    await Promise.resolve();
    await new Promise((r) => setImmediate(r));
    expect(b.state).toBe('half-open');
    expect(isBrokenCircuitError(await settle(a.execute(() => 'second probe')))).toBe(true);
    release();
    expect(await probe).toBe('ok');
    expect(await a.execute(() => 'back')).toBe('back');
    expect([a.state, b.state]).toEqual(['closed', 'closed']);
  });

  it('keeps the failure that opened it (its rejections’ cause) only until it closes', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const { a, clock } = pair();
    // In a function of its own, so no register of the test's frame keeps the failure.
    const openAndReject = async () => {
      const failure = new Error('down');
      await settle(a.execute(() => Promise.reject(failure)));
      await settle(a.execute(() => Promise.reject(failure)));
      const rejection = await settle(a.execute(() => 'not run'));
      expect((rejection as Error).cause).toBe(failure);
      return new WeakRef(failure);
    };
    const opened = await openAndReject();
    await clock.advance(1_000);
    expect(await a.execute(() => 'probe')).toBe('probe');
    expect(a.state).toBe('closed');
    for (let i = 0; i < 5 && opened.deref() !== undefined; i++) {
      await new Promise((r) => setImmediate(r));
      gc();
    }
    expect(opened.deref()).toBeUndefined(); // before, kept by the rejections' cache for good
  });

  it('emits state changes, successes, failures and rejections as this instance sees them', async () => {
    const { a } = pair();
    const seen: string[] = [];
    a.onEvent((e) => seen.push(e.type === 'state_change' ? `${e.from}->${e.to}` : e.type));
    await settle(a.execute(fail));
    await settle(a.execute(fail));
    await settle(a.execute(() => 1));
    expect(seen).toEqual(['failure', 'failure', 'closed->open', 'rejected']);
  });

  it('does not count the toolkit’s own rejections or the caller’s cancellation', async () => {
    const { a } = pair();
    for (let i = 0; i < 3; i++) await settle(a.execute(() => Promise.reject(new BulkheadRejectedError(1, 0))));
    const controller = new AbortController();
    controller.abort();
    for (let i = 0; i < 3; i++) await settle(a.execute(fail, controller.signal));
    expect(a.state).toBe('closed');
  });

  it('runs nothing for a caller that left while the store decided, and gives its probe slot back', async () => {
    for (const sync of ['per-call', { syncMs: 60_000 }] as const) {
      const clock = new FakeClock();
      const base = memoryStore();
      let gate: Promise<void> | undefined;
      const store = storeOver(base, {
        apply: async (key, t, input, now) => {
          await gate;
          return base.apply(key, t, input, now);
        },
      });
      const b = circuitBreaker({ store, sync, strategy: consecutive(1), halfOpenAfter: 1_000, clock, registry: false });
      /** A call whose caller leaves while the store step it waits for is held back. */
      const left = async () => {
        const step = deferred();
        gate = step.promise;
        const controller = new AbortController();
        let ran = false;
        const call = settle(
          b.execute(() => {
            ran = true;
          }, controller.signal),
        );
        await clock.advance(0);
        const reason = new Error('the caller left');
        controller.abort(reason);
        step.resolve();
        gate = undefined;
        return [(await call) === reason, ran];
      };
      await settle(b.execute(fail));
      await b.sync();
      await clock.advance(1_000);
      expect(await left()).toEqual([true, false]); // its probe's acquire
      expect(await b.execute(() => 'probed')).toBe('probed'); // the slot was given back
      expect(b.state).toBe('closed');
      if (sync === 'per-call') continue;
      await clock.advance(60_000);
      expect(await left()).toEqual([true, false]); // the read of a stale view before a closed call
    }
  });

  it('isolates every instance until released; reset closes', async () => {
    const { a, b } = pair();
    const release = await a.isolate();
    expect(await settle(b.execute(() => 1))).toBeInstanceOf(IsolatedCircuitError);
    await release();
    expect(await b.execute(() => 2)).toBe(2);
    await settle(a.execute(fail));
    await settle(a.execute(fail));
    await b.reset();
    expect(await a.execute(() => 3)).toBe(3);
  });

  it('isolates through a JSON store: Infinity never crosses it, and one instance’s release leaves the other’s', async () => {
    const clock = new FakeClock();
    const store = jsonRoundTripStore(memoryStore());
    const make = () => circuitBreaker({ store, name: 'payments', clock, registry: false, sync: 'per-call' });
    const [a, b] = [make(), make()];
    const releaseA = await a.isolate();
    const releaseB = await b.isolate();
    const rejected = await settle(b.execute(() => 1));
    expect(rejected).toBeInstanceOf(IsolatedCircuitError);
    expect([a.state, a.retryAfterMs, b.retryAfterMs]).toEqual([
      'isolated',
      Number.POSITIVE_INFINITY,
      Number.POSITIVE_INFINITY,
    ]);
    await releaseA();
    await releaseA(); // a second call of one release changes nothing
    expect(await settle(a.execute(() => 1))).toBeInstanceOf(IsolatedCircuitError);
    await releaseB();
    expect(await a.execute(() => 2)).toBe(2);
    expect([a.state, a.retryAfterMs]).toEqual(['closed', 0]);
  });

  it('counts a late outcome only in the round that admitted the call', async () => {
    const { a, b, clock } = pair();
    let failLate = (_: Error) => {};
    const late = settle(a.execute(() => new Promise((_, reject) => (failLate = reject))));
    await new Promise((r) => setImmediate(r)); // the late call is admitted while closed
    await settle(b.execute(fail));
    await settle(b.execute(fail));
    await clock.advance(1_000);
    expect(await b.execute(() => 'probe')).toBe('probe'); // closed again: a new round
    failLate(new Error('stale'));
    await late;
    await settle(b.execute(fail)); // one fresh failure of two
    expect(await a.execute(() => 'still closed')).toBe('still closed');
  });

  it('rejects with this instance’s failure that opened it as cause', async () => {
    const { a } = pair();
    const last = new Error('HTTP 503');
    await settle(a.execute(fail));
    await settle(a.execute(() => Promise.reject(last)));
    expect(((await settle(a.execute(() => 1))) as Error).cause).toBe(last);
  });

  it('is listed by its registry', () => {
    const { registry } = pair();
    expect(registry.list()).toEqual([{ name: 'payments', state: 'closed', retryAfterMs: 0, count: 2 }]);
    expect(registry.size).toBe(2);
  });

  it('rejects a store that is not one, a key without a store and initialState with a store', () => {
    const bad = () =>
      circuitBreaker({ store: {} as never, initialState: circuitBreaker({ registry: false }).snapshot() });
    expect(bad).toThrow(ConfigurationError);
    expect(bad).toThrow(/store[\s\S]*initialState/);
    expect(() => circuitBreaker({ key: 'x', registry: false })).toThrow(/key/);
  });

  describe('while the store is away', () => {
    /** A memory store whose operations fail while `down` is set, as a networked store's do. */
    function flaky() {
      const base = memoryStore();
      const state = { down: false };
      const failing = () => Promise.reject(new StoreUnavailableError('store: connection refused'));
      const store = {
        apply: ((key, t, input, now) => (state.down ? failing() : base.apply(key, t, input, now))) as Store['apply'],
        applyAll: ((ops, now) => (state.down ? failing() : base.applyAll(ops, now))) as Store['applyAll'],
        get: ((key, now) => (state.down ? failing() : base.get(key, now))) as Store['get'],
        set: ((key, v, ttl, now) => (state.down ? failing() : base.set(key, v, ttl, now))) as Store['set'],
        delete: ((key) => (state.down ? failing() : base.delete(key))) as Store['delete'],
        keys: ((prefix, now, o) => (state.down ? failing() : base.keys(prefix, now, o))) as Store['keys'],
      };
      const clock = new FakeClock();
      const breaker = circuitBreaker({
        store,
        name: 'p',
        strategy: consecutive(1),
        halfOpenAfter: 1_000,
        clock,
        sync: 'per-call',
      });
      const events: string[] = [];
      breaker.onEvent((e) => events.push(e.type === 'store_error' ? `store_error ${e.step}` : e.type));
      return { state, breaker, clock, events };
    }

    it('a store error after the call never turns its outcome into another one', async () => {
      const { state, breaker, events } = flaky();
      const ok = breaker.execute(async () => {
        state.down = true;
        return 'done';
      });
      expect(await ok).toBe('done');
      const own = new Error('the call’s own failure');
      expect(await settle(breaker.execute(() => Promise.reject(own)))).toBe(own);
      expect(events).toEqual(['success', 'store_error settle', 'store_error acquire', 'failure', 'store_error settle']);
    });

    it('decides from the last state it saw: calls pass while it was closed, are rejected while it was open', async () => {
      const { state, breaker, clock } = flaky();
      state.down = true;
      expect(await breaker.execute(() => 'closed, store away')).toBe('closed, store away');
      state.down = false;
      await settle(breaker.execute(fail)); // opens
      state.down = true;
      let ran = false;
      const error = await settle(
        breaker.execute(() => {
          ran = true;
        }),
      );
      expect(ran).toBe(false);
      expect(isBrokenCircuitError(error)).toBe(true);
      expect((error as Error).cause).toBeInstanceOf(StoreUnavailableError);
      await clock.advance(1_000);
      expect(isBrokenCircuitError(await settle(breaker.execute(() => 'probe')))).toBe(true);
      state.down = false;
      expect(await breaker.execute(() => 'probe')).toBe('probe');
      expect(breaker.state).toBe('closed');
    });
  });
});
