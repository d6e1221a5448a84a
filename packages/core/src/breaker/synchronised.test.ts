/** The synchronised mode of a breaker kept in a store: local decisions, outcomes merged every syncMs. */
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
import { ConfigurationError, isBrokenCircuitError, StoreUnavailableError } from '../errors/errors.js';
import { memoryStore } from '../store/memory.js';
import type { StoreChannel } from '../store/store.js';
import { storeOver } from '../testing/store-over.js';
import { circuitBreaker } from './breaker.js';
import type { BreakerEvent } from './events.js';
import { BREAKER_DEFAULTS, type CircuitBreakerOptions } from './options.js';
import { type BreakerStrategy, consecutive, countWindow } from './strategy.js';

const ok = () => 'ok';
const down = () => Promise.reject(new Error('HTTP 503'));
const outcome = (p: Promise<unknown>) =>
  p.then(
    () => 'ran',
    (error: unknown) => (isBrokenCircuitError(error) ? 'rejected' : 'failed'),
  );

/** In-process publish/subscribe, as Redis pub/sub carries it between processes. */
function memoryChannel(): StoreChannel {
  const topics = new Map<string, Set<(message: string) => void>>();
  return {
    async publish(topic, message) {
      for (const listener of topics.get(topic) ?? []) listener(message);
    },
    subscribe(topic, listener) {
      const set = topics.get(topic) ?? new Set();
      topics.set(topic, set);
      set.add(listener);
      return () => set.delete(listener);
    },
  };
}

/** A store shared by a fleet (not the memory store itself), counting its steps; `away` makes every step fail. */
function fleet(options: { channel?: boolean; strategy?: BreakerStrategy } & Partial<CircuitBreakerOptions> = {}) {
  const base = memoryStore();
  const clock = new FakeClock();
  const state = { away: false, throws: false, steps: 0 };
  const step = <T>(run: () => Promise<T>): Promise<T> => {
    state.steps++;
    // `throws`: a client that checks its connection before sending throws instead of rejecting.
    if (state.throws) throw new StoreUnavailableError('store: connection is closed');
    return state.away ? Promise.reject(new StoreUnavailableError('store: connection refused')) : run();
  };
  const store = storeOver(base, {
    apply: (key, t, input, now) => step(() => base.apply(key, t, input, now)),
    applyAll: (ops, now) => step(() => base.applyAll(ops, now)),
    ...(options.channel ? { channel: memoryChannel() } : {}),
  });
  const { channel: _, ...rest } = options;
  const make = () =>
    circuitBreaker({
      store,
      name: 'payments',
      strategy: consecutive(3),
      halfOpenAfter: 5_000,
      clock,
      registry: false,
      ...rest,
    });
  return { store, base, clock, state, make };
}

describe('circuitBreaker({ store }) synchronised', () => {
  it('is the default over a store other than the memory store, per-call over the memory store', () => {
    expect(BREAKER_DEFAULTS.syncMs).toBe(1_000);
    const { make, store } = fleet();
    expect(make().synchronised).toBe(true);
    expect(circuitBreaker({ store, sync: 'per-call', registry: false }).synchronised).toBe(false);
    expect(circuitBreaker({ store: memoryStore(), registry: false }).synchronised).toBe(false);
    expect(circuitBreaker({ store: memoryStore(), sync: {}, registry: false }).synchronised).toBe(true);
  });

  it('decides closed calls with no store step, merging their outcomes in one step at most every syncMs', async () => {
    const { make, clock, state, base } = fleet({ strategy: countWindow({ size: 1_000, failureRate: 0.5 }) });
    const a = make();
    expect(await a.execute(ok)).toBe('ok'); // the first call reads the shared state once
    expect(state.steps).toBe(1);
    for (let i = 0; i < 999; i++) await a.execute(ok);
    expect(state.steps).toBe(1);
    await clock.advance(999);
    expect(state.steps).toBe(1);
    await clock.advance(1);
    expect(state.steps).toBe(2); // 1 000 calls, 2 round trips
    const stored = (await base.get('{breaker|payments}', clock.now())) as { window: { filled: number } };
    expect(stored.window.filled).toBe(1_000);
    await clock.advance(10_000);
    expect(state.steps).toBe(2); // nothing to merge: no timer, no step
  });

  it('opens for every instance within one syncMs when failures spread over the fleet trip the shared window', async () => {
    const { make, clock } = fleet();
    const [a, b, c, d] = [make(), make(), make(), make()];
    for (const x of [a, b, c, d]) await x.execute(ok);
    await clock.advance(1_000); // the successes merged
    for (const x of [a, b, c]) expect(await outcome(x.execute(down))).toBe('failed'); // one each: no view trips
    expect([a.state, b.state, c.state]).toEqual(['closed', 'closed', 'closed']);
    await clock.advance(1_000); // the merges: 1, 2, 3 failures in a row across the fleet
    expect(c.state).toBe('open');
    expect(await outcome(c.execute(ok))).toBe('rejected');
    await clock.advance(1_000); // one syncMs later every instance has read it
    for (const x of [a, b, c, d]) {
      expect(await outcome(x.execute(ok))).toBe('rejected');
      expect(x.state).toBe('open');
    }
  });

  it('counts minimumCalls over the fleet: no instance trips alone, the merged window does', async () => {
    const { make, clock } = fleet({ strategy: countWindow({ size: 10, failureRate: 0.5, minimumCalls: 10 }) });
    const instances = Array.from({ length: 5 }, make);
    for (const x of instances) {
      await x.execute(ok);
      await outcome(x.execute(down));
    }
    expect(instances.map((x) => x.state)).toEqual(Array(5).fill('closed'));
    await clock.advance(1_000); // 10 calls, 5 failed: the last merge opens it
    expect(instances.map((x) => x.state)).toEqual([...Array(4).fill('closed'), 'open']);
    await clock.advance(1_000);
    for (const x of instances) expect(await outcome(x.execute(ok))).toBe('rejected'); // each reads it first
    expect(instances.map((x) => x.state)).toEqual(Array(5).fill('open'));
  });

  it("opens at once when this instance's view of the window trips, and merges right away", async () => {
    const { make, state } = fleet();
    const a = make();
    const events: string[] = [];
    a.on('state_change', (e) => events.push(`${e.from}->${e.to}`));
    for (let i = 0; i < 3; i++) await outcome(a.execute(down));
    let ran = false;
    expect(
      await outcome(
        a.execute(() => {
          ran = true;
        }),
      ),
    ).toBe('rejected');
    expect(ran).toBe(false);
    await a.sync();
    expect(a.state).toBe('open');
    expect(state.steps).toBe(3); // the first read, the merge that opened it, sync()
    expect(events).toEqual(['closed->open']);
  });

  it('sends exactly one probe from the fleet when half-open, and closes every instance after it', async () => {
    const { make, clock } = fleet();
    const [a, b, c] = [make(), make(), make()];
    for (const x of [a, b, c]) await x.execute(ok);
    for (let i = 0; i < 3; i++) await outcome(a.execute(down));
    await clock.advance(1_000);
    await clock.advance(5_000);
    let probes = 0;
    let release!: () => void;
    const probe = () => {
      probes++;
      return new Promise<string>((resolve) => (release = () => resolve('probed')));
    };
    const calls = [a, b, c].flatMap((x) => Array.from({ length: 5 }, () => outcome(x.execute(probe))));
    await clock.advance(0);
    expect(probes).toBe(1);
    release();
    expect((await Promise.all(calls)).sort()).toEqual(['ran', ...Array(14).fill('rejected')]);
    await clock.advance(5_000);
    for (const x of [a, b, c]) expect(await x.execute(ok)).toBe('ok');
    expect([a.state, b.state, c.state]).toEqual(['closed', 'closed', 'closed']);
  });

  it('a probe that hangs holds this instance back only for its round: a later probe closes the breaker', async () => {
    const { make, clock, state } = fleet();
    const a = make();
    await a.execute(ok);
    for (let i = 0; i < 3; i++) await outcome(a.execute(down));
    await clock.advance(5_000);
    let probes = 0;
    void a.execute(() => {
      probes++;
      return new Promise<never>(() => {}); // its caller gave up; it ignores its signal
    });
    await clock.advance(0);
    const steps = state.steps;
    expect([probes, await outcome(a.execute(ok))]).toEqual([1, 'rejected']); // its round still runs
    expect(state.steps).toBe(steps); // decided locally
    await clock.advance(5_000); // the round ran out: the next call asks the store, which re-opens
    expect(await outcome(a.execute(ok))).toBe('rejected');
    expect(a.state).toBe('open');
    await clock.advance(5_000);
    expect(await outcome(a.execute(ok))).toBe('ran');
    expect(a.state).toBe('closed');
  });

  it("with the store's channel, the other instances reject at once, not at their next step", async () => {
    const { make, clock } = fleet({ channel: true });
    const [a, b] = [make(), make()];
    for (const x of [a, b]) await x.execute(ok);
    for (let i = 0; i < 3; i++) await outcome(a.execute(down));
    await clock.advance(0);
    expect(b.state).toBe('open');
    expect(await outcome(b.execute(ok))).toBe('rejected');
    await clock.advance(5_000);
    expect(await b.execute(ok)).toBe('ok'); // b took the probe: its success closes a at once
    await clock.advance(0);
    expect(a.state).toBe('closed');
  });

  it('while the store is away: decides from its view, still opens when its own view trips, probes only with the store', async () => {
    const { make, clock, state } = fleet();
    const a = make();
    const events: BreakerEvent[] = [];
    a.onEvent((e) => events.push(e));
    await a.execute(ok);
    state.away = true;
    expect(await a.execute(ok)).toBe('ok');
    for (let i = 0; i < 3; i++) await outcome(a.execute(down));
    expect(a.state).toBe('open');
    await expect(a.sync()).rejects.toBeInstanceOf(StoreUnavailableError);
    await clock.advance(5_000);
    const rejected = await a.execute(ok).catch((e: unknown) => e);
    expect(isBrokenCircuitError(rejected)).toBe(true);
    expect((rejected as Error).cause).toBeInstanceOf(StoreUnavailableError);
    expect(events.filter((e) => e.type === 'store_error').map((e) => e.type === 'store_error' && e.step)).toContain(
      'sync',
    );
    state.away = false;
    expect(await a.execute(ok)).toBe('ok'); // the store is back: the probe goes out, the breaker closes
    expect(a.state).toBe('closed');
  });

  it('a store that throws instead of rejecting fails a merge as one that rejects: reported, kept, never thrown from the timer', async () => {
    const { make, clock, state } = fleet();
    const a = make();
    const events: BreakerEvent[] = [];
    a.onEvent((e) => events.push(e));
    await a.execute(ok);
    state.throws = true;
    for (let i = 0; i < 3; i++) await outcome(a.execute(down));
    expect(a.state).toBe('open');
    await clock.advance(BREAKER_DEFAULTS.syncMs); // the merge timer fires: nothing may escape it
    expect(events.filter((e) => e.type === 'store_error').map((e) => e.type === 'store_error' && e.step)).toContain(
      'sync',
    );
    await expect(a.sync()).rejects.toBeInstanceOf(StoreUnavailableError);
    state.throws = false;
    await a.sync(); // the store is back: the next merge goes through
  });

  it("reports a channel's failure to subscribe as a store_error of step 'subscribe'", async () => {
    const refused = new StoreUnavailableError('SUBSCRIBE refused: NOPERM');
    const store = storeOver(memoryStore(), {
      channel: {
        publish: async () => undefined,
        subscribe: (_topic, _listener, onError) => {
          queueMicrotask(() => onError?.(refused));
          return () => undefined;
        },
      },
    });
    const breaker = circuitBreaker({ store, name: 'deaf', sync: { syncMs: 1_000 }, registry: false });
    const events: BreakerEvent[] = [];
    breaker.on('store_error', (e) => events.push(e));
    await Promise.resolve();
    expect(events).toEqual([{ type: 'store_error', policy: 'deaf', step: 'subscribe', error: refused }]);
  });

  it('dispose() drops the pending merge timer and the channel subscription', async () => {
    const { make, clock, state } = fleet({ channel: true });
    const a = make();
    await a.execute(ok);
    await a.execute(ok);
    a.dispose();
    await clock.advance(10_000);
    expect(state.steps).toBe(1);
    expect(clock.pendingTimers).toBe(0);
  });

  it('refuses sync without a store, or with a bad syncMs, naming it', () => {
    expect(() => circuitBreaker({ sync: 'per-call', registry: false })).toThrow(ConfigurationError);
    expect(() => circuitBreaker({ sync: {}, registry: false })).toThrow(/sync/);
    const store = memoryStore();
    expect(() => circuitBreaker({ store, sync: { syncMs: 0 }, registry: false })).toThrow(/sync\.syncMs/);
    expect(() => circuitBreaker({ store, sync: { everyMs: 5 } as never, registry: false })).toThrow(/sync\.everyMs/);
  });

  it("names 'per-call' when sync is a misspelt string, not only the object form", () => {
    const store = memoryStore();
    expect(() => circuitBreaker({ store, sync: 'percall' as never, registry: false })).toThrow(
      `sync: received "percall", expected 'per-call' or { syncMs }`,
    );
  });
});

describe('a synchronised breaker over a store that answers a step it cannot read', () => {
  it('reports it as a store_error of step sync and goes on once the store answers well, instead of failing every call for good', async () => {
    const base = memoryStore();
    const clock = new FakeClock();
    let damaged = true;
    const store = storeOver(base, {
      apply: async (key, t, input, now) => {
        const out = await base.apply(key, t, input, now);
        // A window the strategy cannot take (the store read a damaged value, or another program's).
        return damaged && t.name.endsWith('.sync')
          ? ({ ...(out as object), window: { kind: 'consecutive', failures: null } } as typeof out)
          : out;
      },
    });
    const breaker = circuitBreaker({
      store,
      name: 'damaged',
      strategy: consecutive(3),
      clock,
      registry: false,
      sync: { syncMs: 1_000 },
    });
    const errors: string[] = [];
    breaker.on('store_error', (e) => {
      if (e.type === 'store_error') errors.push(e.step);
    });
    await expect(breaker.execute(ok)).resolves.toBe('ok'); // decided from its view, closed
    expect(errors).toEqual(['sync']);
    damaged = false;
    await clock.advance(1_000);
    await expect(breaker.execute(ok)).resolves.toBe('ok');
    await expect(breaker.sync()).resolves.toBeUndefined();
    expect(errors).toEqual(['sync']);
  });
});
