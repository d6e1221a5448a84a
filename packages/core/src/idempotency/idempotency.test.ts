import { getEventListeners } from 'node:events';
import { describe, expect, it, vi } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
import {
  BrokenCircuitError,
  ConfigurationError,
  IdempotencyConflictError,
  IdempotencyRecordError,
  isIdempotencyRecordError,
  RequestTimeoutError,
  StoreUnavailableError,
} from '../errors/errors.js';
import { httpErrorStatus } from '../http/error-response.js';
import { type MemoryStore, memoryStore } from '../store/memory.js';
import { deferred } from '../testing/deferred.js';
import { jsonRoundTripStore } from '../testing/json-round-trip-store.js';
import { storeOver } from '../testing/store-over.js';
import { idempotency } from './idempotency.js';
import { IDEMPOTENCY_DEFAULTS } from './options.js';
import { ReplayedError } from './replayed-error.js';
import { unrecorded } from './unrecorded.js';

const fixed = () => 0.25;

describe('idempotency', () => {
  it('pins its defaults', () => {
    expect(IDEMPOTENCY_DEFAULTS).toEqual({
      ttlMs: 86_400_000,
      maxRecords: 10_000,
      lockTimeoutMs: 60_000,
      recordErrors: false,
      maxRecordBytes: 1_048_576,
      pollIntervalMs: 50,
      keyPrefix: 'default',
      recordAttempts: 3,
    });
  });

  it('runs fn once across two instances on one store given the same random (a seeded one in tests)', async () => {
    const store = memoryStore();
    const clock = new FakeClock();
    const gate = deferred<string>();
    const fn = vi.fn(() => gate.promise);
    const [a, b] = [1, 2].map(() => idempotency({ store, clock, random: fixed, pollIntervalMs: 5 }));
    const first = a!.execute('order-1', fn);
    await clock.advance(1);
    const second = b!.execute('order-1', fn);
    await clock.advance(10);
    expect(fn).toHaveBeenCalledTimes(1); // the second waits for the first's record
    gate.resolve('charged');
    await clock.advance(10);
    expect([await first, await second]).toEqual(['charged', 'charged']);
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it('runs fn exactly once for 1 000 concurrent calls with one key, and all get its value', async () => {
    const idem = idempotency({ clock: new FakeClock(), random: fixed });
    const gate = deferred<{ order: number }>();
    const fn = vi.fn(() => gate.promise);
    const calls = Array.from({ length: 1_000 }, () => idem.execute('k', fn));
    gate.resolve({ order: 7 });
    const values = await Promise.all(calls);
    expect(fn).toHaveBeenCalledTimes(1);
    expect(values.every((v) => v.order === 7)).toBe(true);
    expect(idem.inFlight).toBe(0);
  });

  it('replays the recorded value within ttlMs without running fn, and runs it again after', async () => {
    const clock = new FakeClock();
    const idem = idempotency({ clock, random: fixed, ttlMs: 1_000 });
    const fn = vi.fn(async () => 'created');
    expect(await idem.executeDetailed('k', fn)).toEqual({ value: 'created', source: 'executed' });
    await clock.advance(999);
    expect(await idem.executeDetailed('k', fn)).toEqual({ value: 'created', source: 'replayed' });
    expect(fn).toHaveBeenCalledTimes(1);
    await clock.advance(1);
    await idem.execute('k', fn);
    expect(fn).toHaveBeenCalledTimes(2);
  });

  describe('callers sharing a call in this process', () => {
    it('stop waiting on a hung call after lockTimeoutMs, as another process would, and one of them runs fn', async () => {
      const clock = new FakeClock();
      const idem = idempotency({ clock, random: fixed, lockTimeoutMs: 1_000 });
      void idem.execute('k', () => new Promise(() => {})); // hangs forever
      const fn = vi.fn(async () => 'second');
      const sharers = [idem.executeDetailed('k', fn), idem.executeDetailed('k', fn)];
      await clock.advance(999);
      expect(fn).not.toHaveBeenCalled();
      await clock.advance(1);
      expect(fn).toHaveBeenCalledTimes(1);
      expect(await Promise.all(sharers)).toEqual([
        { value: 'second', source: 'executed' },
        { value: 'second', source: 'shared' },
      ]);
      expect(await idem.executeDetailed('k', fn)).toEqual({ value: 'second', source: 'replayed' });
      expect(clock.pendingTimers).toBe(0);
    });

    it('stop waiting when their own signal aborts, leaving the first call and the others alone', async () => {
      const clock = new FakeClock();
      const idem = idempotency({ clock, random: fixed });
      const gate = deferred<string>();
      const first = idem.execute('k', () => gate.promise);
      const controller = new AbortController();
      const leaving = idem.execute('k', () => 'never', { signal: controller.signal });
      const staying = idem.execute('k', () => 'never');
      controller.abort(new Error('client gone'));
      await expect(leaving).rejects.toThrow('client gone');
      await expect(idem.execute('k', () => 'never', { signal: controller.signal })).rejects.toThrow('client gone');
      gate.resolve('paid');
      expect([await first, await staying]).toEqual(['paid', 'paid']);
    });

    it('leave one abort listener on a caller signal however many of them wait under it, and none once settled', async () => {
      const warn = vi.spyOn(process, 'emitWarning');
      const idem = idempotency({ clock: new FakeClock(), random: fixed });
      const gate = deferred<number>();
      const server = new AbortController(); // one signal for the server's lifetime
      const calls = Array.from({ length: 50 }, () => idem.execute('k', () => gate.promise, { signal: server.signal }));
      const during = getEventListeners(server.signal, 'abort').length;
      gate.resolve(1);
      await Promise.all(calls);
      expect([during, getEventListeners(server.signal, 'abort').length]).toEqual([1, 0]);
      expect(warn.mock.calls.filter(([w]) => (w as Error).name === 'MaxListenersExceededWarning')).toEqual([]);
      warn.mockRestore();
    });

    it('arm one timer per key however many callers share it, and clear it when the call settles', async () => {
      const clock = new FakeClock();
      const idem = idempotency({ clock, random: fixed });
      const gate = deferred<number>();
      const calls = Array.from({ length: 100 }, () => idem.execute('k', () => gate.promise));
      expect(clock.pendingTimers).toBe(1);
      gate.resolve(1);
      await Promise.all(calls);
      expect(clock.pendingTimers).toBe(0);
    });
  });

  it('refuses a key or scope over 1 024 characters before running anything: each would be held whole in the store', async () => {
    const store = memoryStore();
    const idem = idempotency({ store });
    const fn = vi.fn(() => 'ran');
    await expect(idem.execute('k'.repeat(1_025), fn)).rejects.toThrow(
      /key: received .*expected a string of 1 to 1 024 characters/,
    );
    await expect(idem.execute('k', fn, { scope: 's'.repeat(1_025) })).rejects.toThrow(
      /scope: received .*at most 1 024 characters/,
    );
    expect(fn).not.toHaveBeenCalled();
    expect(store.size).toBe(0);
    expect(await idem.execute('k'.repeat(1_024), fn, { scope: 's'.repeat(1_024) })).toBe('ran');
  });

  it('runs nothing for a caller whose signal is already aborted', async () => {
    const fn = vi.fn();
    const aborted = AbortSignal.abort(new Error('gone'));
    await expect(idempotency({ random: fixed }).execute('k', fn, { signal: aborted })).rejects.toThrow('gone');
    expect(fn).not.toHaveBeenCalled();
  });

  it('runs nothing for a caller whose signal aborts while the store takes the key, and frees the key', async () => {
    const inner = memoryStore();
    const claimed = deferred<void>();
    const store = storeOver(inner, {
      apply: async (key, t, input, now) => {
        const out = await inner.apply(key, t, input, now);
        await claimed.promise; // the claim is on its way back from the store
        return out;
      },
    });
    const idem = idempotency({ store, random: fixed });
    const fn = vi.fn(() => 'ran');
    const caller = new AbortController();
    const call = idem.execute('k', fn, { signal: caller.signal });
    caller.abort(new Error('gone'));
    claimed.resolve();
    await expect(call).rejects.toThrow('gone');
    expect(fn).not.toHaveBeenCalled();
    expect(await idem.execute('k', () => 'next')).toBe('next'); // the key was let go
  });

  it('rejects a concurrent call at once with in_flight when asked to', async () => {
    const idem = idempotency({ clock: new FakeClock(), random: fixed });
    const gate = deferred<number>();
    const first = idem.execute('k', () => gate.promise);
    const error = await idem.execute('k', () => 2, { onInFlight: 'reject' }).catch((e) => e);
    expect(error).toBeInstanceOf(IdempotencyConflictError);
    expect(error.code).toBe('in_flight');
    gate.resolve(1);
    expect(await first).toBe(1);
  });

  it('replays a recorded key to callers told to reject that arrive while another still reads the record', async () => {
    // A store with a round trip (as Redis has): the second caller arrived while the first was
    // still asking whether the key was done, and got in_flight where the record was a replay.
    const inner = memoryStore();
    const store = storeOver(inner, {
      async apply(key, t, input, now) {
        await null; // the round trip
        return inner.apply(key, t, input, now);
      },
    });
    const idem = idempotency({ clock: new FakeClock(), random: fixed, store });
    const fn = vi.fn(() => 1);
    expect(await idem.execute('k', fn)).toBe(1);
    const both = [1, 2].map(() => idem.executeDetailed('k', fn, { onInFlight: 'reject' }).catch((e: unknown) => e));
    expect((await Promise.all(both)).map((r) => (r as { source?: string }).source ?? r)).toEqual([
      'replayed',
      'replayed',
    ]);
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it('takes over a hung call in this process after lockTimeoutMs, even when told to reject', async () => {
    const clock = new FakeClock();
    const idem = idempotency({ clock, random: fixed, lockTimeoutMs: 1_000 });
    void idem.execute('k', () => new Promise<number>(() => {}));
    await expect(idem.execute('k', () => 2, { onInFlight: 'reject' })).rejects.toMatchObject({ code: 'in_flight' });
    await clock.advance(1_000);
    expect(await idem.execute('k', () => 2, { onInFlight: 'reject' })).toBe(2);
  });

  it('rejects the same key with another fingerprint, in flight or recorded', async () => {
    const idem = idempotency({ clock: new FakeClock(), random: fixed });
    const gate = deferred<number>();
    const first = idem.execute('k', () => gate.promise, { fingerprint: 'body-a' });
    await expect(idem.execute('k', () => 2, { fingerprint: 'body-b' })).rejects.toMatchObject({
      code: 'fingerprint_mismatch',
    });
    gate.resolve(1);
    await first;
    await expect(idem.execute('k', () => 2, { fingerprint: 'body-b' })).rejects.toMatchObject({
      code: 'fingerprint_mismatch',
    });
    expect(await idem.execute('k', () => 2, { fingerprint: 'body-a' })).toBe(1);
  });

  it("never returns one scope's result to another scope", async () => {
    const idem = idempotency({ clock: new FakeClock(), random: fixed });
    expect(await idem.execute('k', () => 'alice', { scope: 'user:alice' })).toBe('alice');
    expect(await idem.execute('k', () => 'bob', { scope: 'user:bob' })).toBe('bob');
    expect(await idem.execute('k', () => 'none')).toBe('none');
    // A scope cannot forge another's key with separators.
    expect(await idem.execute('b:k', () => 'forged', { scope: 'a' })).toBe('forged');
    expect(await idem.execute('k', () => 'x', { scope: 'a:b' })).toBe('x');
  });

  it('frees the key after an error by default, so the client can try again', async () => {
    const idem = idempotency({ clock: new FakeClock(), random: fixed });
    await expect(idem.execute('k', () => Promise.reject(new Error('db down')))).rejects.toThrow('db down');
    expect(await idem.execute('k', () => 'second try')).toBe('second try');
  });

  it('records and replays errors the user chooses to record', async () => {
    const idem = idempotency({
      clock: new FakeClock(),
      random: fixed,
      recordErrors: (e) => (e as { status?: number }).status === 400,
    });
    const invalid = Object.assign(new Error('amount must be positive'), { name: 'ValidationError', status: 400 });
    await expect(idem.execute('k', () => Promise.reject(invalid))).rejects.toBe(invalid);
    const fn = vi.fn();
    const replayed = await idem.execute('k', fn).catch((e) => e);
    expect(fn).not.toHaveBeenCalled();
    expect(replayed).toBeInstanceOf(ReplayedError);
    expect(replayed).toMatchObject({
      name: 'ValidationError',
      message: 'amount must be positive',
      status: 400,
      replayed: true,
    });
    await expect(idem.execute('other', () => Promise.reject(new Error('500')))).rejects.toThrow('500');
    expect(await idem.execute('other', () => 'ok')).toBe('ok');
  });

  it('replays a recorded error with the status a server answered the original with, not an upstream’s', async () => {
    const idem = idempotency({ clock: new FakeClock(), random: fixed, recordErrors: true });
    const cases: Array<[string, unknown]> = [
      [
        'axios',
        Object.assign(new Error('Request failed with status code 401'), {
          isAxiosError: true,
          status: 401,
          response: { status: 401 },
        }),
      ],
      ['timeout', new RequestTimeoutError(100)],
      ['circuit', new BrokenCircuitError('open', 5_000)],
      ['invalid', Object.assign(new Error('bad'), { status: 400 })],
    ];
    for (const [key, error] of cases) {
      await idem.execute(key, () => Promise.reject(error)).catch(() => {});
      const replayed = await idem.execute(key, () => 'ran').catch((e: unknown) => e);
      expect([key, httpErrorStatus(replayed).status]).toEqual([key, httpErrorStatus(error).status]);
    }
  });

  it('records an error whose getters throw as what can be read, and gives its caller that error', async () => {
    const idem = idempotency({ clock: new FakeClock(), random: fixed, recordErrors: true });
    const hostile = {
      message: 'orig',
      get name(): string {
        throw new Error('getter boom');
      },
    };
    await expect(idem.execute('k', () => Promise.reject(hostile))).rejects.toBe(hostile);
    await expect(idem.execute('k', () => 'ran')).rejects.toMatchObject({ message: 'orig', replayed: true });
  });

  it('rethrows the real error and frees the key when recordErrors throws, reporting the predicate failure', async () => {
    const broken = new Error('predicate bug');
    const idem = idempotency({
      clock: new FakeClock(),
      random: fixed,
      recordErrors: () => {
        throw broken;
      },
    });
    const events: unknown[] = [];
    idem.onEvent((e) => events.push(e));
    const real = new Error('db down');
    await expect(idem.execute('k', () => Promise.reject(real))).rejects.toBe(real);
    expect(events).toEqual([
      {
        type: 'callback_failed',
        policy: 'idempotency',
        key: expect.any(String),
        callback: 'recordErrors',
        error: broken,
      },
    ]);
    expect(idem.inFlight).toBe(0);
    expect(await idem.execute('k', () => 'second try')).toBe('second try');
  });

  it('does not record errors by a recordErrors that answers a promise (no answer), and reports it', async () => {
    // Not async (refused at construction), but a promise all the same.
    const answersLater = () => Promise.resolve(false);
    const idem = idempotency({ clock: new FakeClock(), random: fixed, recordErrors: answersLater as never });
    const events: { type: string; error?: unknown }[] = [];
    idem.onEvent((e) => events.push(e));
    const unavailable = new Error('upstream 503');
    await expect(idem.execute('k', () => Promise.reject(unavailable))).rejects.toBe(unavailable);
    expect(events.map((e) => [e.type, (e.error as Error).message])).toEqual([
      ['callback_failed', 'recordErrors must return a boolean, not a promise'],
    ]);
    expect(await idem.execute('k', () => 'second try')).toBe('second try');
  });

  it('refuses maxRecords below 2, where no call could ever be held in flight', () => {
    expect(() => idempotency({ maxRecords: 1 })).toThrow(/maxRecords/);
    expect(() => idempotency({ maxRecords: 2 })).not.toThrow();
  });

  it('refuses maxRecords beside a store of your own, which it would not bound', () => {
    const store = memoryStore({ maxKeys: 100 });
    expect(() => idempotency({ store, maxRecords: 10 })).toThrow(ConfigurationError);
    expect(() => idempotency({ store, maxRecords: 10 })).toThrow(
      'maxRecords: received 10, expected no value when store is given (bound that store: memoryStore({ maxKeys }), Redis maxmemory)',
    );
    expect(() => idempotency({ store })).not.toThrow();
    expect(() => idempotency({ maxRecords: 10 })).not.toThrow();
  });

  it('bounds records by maxRecords in the default store', async () => {
    const idem = idempotency({ clock: new FakeClock(), random: fixed, maxRecords: 2 });
    const fn = vi.fn(() => 1);
    for (const key of ['a', 'b', 'c', 'd']) await idem.execute(key, fn);
    expect(fn).toHaveBeenCalledTimes(4);
    expect((idem.store as MemoryStore).size).toBeLessThanOrEqual(2);
    for (const key of ['a', 'b', 'c', 'd']) await idem.execute(key, fn);
    expect(fn.mock.calls.length).toBeGreaterThan(4); // evicted records run again
  });

  describe('across processes sharing a store', () => {
    it('shares the outcome of a call in flight in another process', async () => {
      const clock = new FakeClock();
      const store = memoryStore();
      const one = idempotency({ store, clock, random: () => 0.1 });
      const two = idempotency({ store, clock, random: () => 0.2, pollIntervalMs: 10 });
      const gate = deferred<string>();
      const first = one.execute('k', () => gate.promise);
      await clock.advance(0);
      const fn = vi.fn(() => 'duplicate');
      const second = two.executeDetailed('k', fn);
      await clock.advance(30);
      gate.resolve('paid');
      await first;
      await clock.advance(10);
      expect(await second).toEqual({ value: 'paid', source: 'replayed' });
      expect(fn).not.toHaveBeenCalled();
    });

    it('rejects with in_flight when the other process holds the key and onInFlight is reject', async () => {
      const clock = new FakeClock();
      const store = memoryStore();
      const one = idempotency({ store, clock, random: () => 0.1 });
      const two = idempotency({ store, clock, random: () => 0.2 });
      void one.execute('k', () => new Promise(() => {}));
      await clock.advance(0);
      await expect(two.execute('k', () => 1, { onInFlight: 'reject' })).rejects.toMatchObject({ code: 'in_flight' });
    });

    it("keeps a caller sharing the wait on another process waiting when the first caller stops (its signal, or 'reject')", async () => {
      const clock = new FakeClock();
      const store = memoryStore();
      const one = idempotency({ store, clock, random: () => 0.1 });
      const two = idempotency({ store, clock, random: () => 0.2 });
      const three = idempotency({ store, clock, random: () => 0.3 });
      const gate = deferred<string>();
      void one.execute('k', () => gate.promise);
      await clock.advance(0);
      const controller = new AbortController();
      const gaveUp = new Error('client went away');
      const impatient = two.execute('k', () => 'dup', { signal: controller.signal });
      const patient = two.executeDetailed('k', () => 'dup'); // shares impatient's wait
      const rejecting = three.execute('k', () => 'dup', { onInFlight: 'reject' });
      const patientToo = three.executeDetailed('k', () => 'dup'); // shares rejecting's call
      controller.abort(gaveUp);
      await expect(impatient).rejects.toBe(gaveUp);
      await expect(rejecting).rejects.toMatchObject({ code: 'in_flight' });
      gate.resolve('paid');
      await clock.advance(100);
      expect(await patient).toEqual({ value: 'paid', source: 'replayed' });
      expect(await patientToo).toEqual({ value: 'paid', source: 'replayed' });
    });

    it('frees the key of a process that died after lockTimeoutMs', async () => {
      const clock = new FakeClock();
      const store = memoryStore();
      const dead = idempotency({ store, clock, random: () => 0.1, lockTimeoutMs: 5_000 });
      void dead.execute('k', () => new Promise(() => {})); // the owner crashes mid-call
      await clock.advance(0);
      const alive = idempotency({ store, clock, random: () => 0.2, lockTimeoutMs: 5_000 });
      await expect(alive.execute('k', () => 1, { onInFlight: 'reject' })).rejects.toMatchObject({ code: 'in_flight' });
      await clock.advance(5_000);
      expect(await alive.execute('k', () => 'recovered')).toBe('recovered');
    });

    it('re-reads the key no later than when its lock expires', async () => {
      const clock = new FakeClock();
      const store = memoryStore();
      void idempotency({ store, clock, random: () => 0.1, lockTimeoutMs: 30 }).execute(
        'k',
        () => new Promise(() => {}),
      );
      await clock.advance(0);
      const fn = vi.fn(() => 'taken over');
      const waiting = idempotency({
        store,
        clock,
        random: () => 0.2,
        lockTimeoutMs: 30,
        pollIntervalMs: 1_000,
      }).execute('k', fn);
      await clock.advance(30);
      expect(fn).toHaveBeenCalledTimes(1);
      expect(await waiting).toBe('taken over');
    });

    it('does not let an owner whose lock expired overwrite the record of the call that took the key over', async () => {
      const clock = new FakeClock();
      const store = memoryStore();
      const slow = deferred<string>();
      const first = idempotency({ store, clock, random: () => 0.1, lockTimeoutMs: 100 }).execute(
        'k',
        () => slow.promise,
      );
      await clock.advance(100);
      const second = idempotency({ store, clock, random: () => 0.2, lockTimeoutMs: 100 });
      const next = deferred<string>();
      const taken = second.execute('k', () => next.promise);
      await clock.advance(0);
      slow.resolve('late');
      expect(await first).toBe('late'); // its caller still gets its own value
      next.resolve('current');
      expect(await taken).toBe('current');
      expect(await second.executeDetailed('k', () => 'again')).toEqual({ value: 'current', source: 'replayed' });
    });

    it('tells the owner whose lock expired that its outcome was not recorded (lock_lost), by its result and a not_recorded event', async () => {
      const clock = new FakeClock();
      const store = memoryStore();
      const late = idempotency({ store, clock, random: () => 0.1, lockTimeoutMs: 100, recordErrors: () => true });
      const events: unknown[] = [];
      late.onEvent((e) => void events.push(e));
      const slow = deferred<string>();
      const first = late.executeDetailed('k', () => slow.promise);
      await clock.advance(100);
      const second = idempotency({ store, clock, random: () => 0.2, lockTimeoutMs: 100 });
      expect(await second.execute('k', () => 'charge-B')).toBe('charge-B');
      slow.resolve('charge-A');
      expect(await first).toEqual({ value: 'charge-A', source: 'executed', unrecorded: { reason: 'lock_lost' } });
      expect(events).toContainEqual(
        expect.objectContaining({ type: 'not_recorded', key: '{idem:default|k}', reason: 'lock_lost' }),
      );
      expect(events).not.toContainEqual(expect.objectContaining({ type: 'executed' }));
      // A failure it would record is not recorded either, and it says so.
      const failing = deferred<string>();
      const third = late.execute('j', () => failing.promise);
      await clock.advance(100);
      expect(await second.execute('j', () => 'other')).toBe('other');
      failing.reject(Object.assign(new Error('declined'), { status: 402 }));
      await expect(third).rejects.toThrow('declined');
      expect(events).toContainEqual(
        expect.objectContaining({ type: 'not_recorded', key: '{idem:default|j}', reason: 'lock_lost' }),
      );
      expect(await second.executeDetailed('j', () => 'again')).toEqual({ value: 'other', source: 'replayed' });
    });

    it('stops waiting when the signal aborts', async () => {
      const clock = new FakeClock();
      const store = memoryStore();
      void idempotency({ store, clock, random: () => 0.1 }).execute('k', () => new Promise(() => {}));
      await clock.advance(0);
      const controller = new AbortController();
      const waiting = idempotency({ store, clock, random: () => 0.2 }).execute('k', () => 1, {
        signal: controller.signal,
      });
      await clock.advance(100);
      controller.abort(new Error('client gone'));
      await expect(waiting).rejects.toThrow('client gone');
    });
  });

  describe('when the store fails', () => {
    /** A memory store whose `apply` of the transitions named in `failing` rejects while `away.on`. */
    function flaky(
      failing: readonly string[],
      error: () => Error = () => new StoreUnavailableError('redisStore: timed out'),
    ) {
      const inner = memoryStore();
      const away = { on: false, failures: 0 };
      const store = storeOver(inner, {
        apply: (key, t, input, now) => {
          if (away.on && failing.includes(t.name)) {
            away.failures++;
            return Promise.reject(error());
          }
          return inner.apply(key, t, input, now);
        },
      });
      return { store, away };
    }

    it('fails closed: a store error when claiming the key rejects the call and runs nothing', async () => {
      const { store, away } = flaky(['idempotency.begin']);
      const idem = idempotency({ store, clock: new FakeClock(), random: fixed });
      away.on = true;
      const fn = vi.fn(() => 'charged');
      await expect(idem.execute('k', fn)).rejects.toBeInstanceOf(StoreUnavailableError);
      expect(fn).not.toHaveBeenCalled();
      away.on = false;
      expect(await idem.execute('k', fn)).toBe('charged');
    });

    it('tries recording the outcome again, pollIntervalMs apart; a retry that lands makes the call succeed', async () => {
      expect(IDEMPOTENCY_DEFAULTS.recordAttempts).toBe(3);
      const { store, away } = flaky(['idempotency.complete']);
      const clock = new FakeClock();
      const idem = idempotency({ store, clock, random: fixed, pollIntervalMs: 100 });
      const fn = vi.fn(() => 'charged');
      const call = idem.execute('k', async () => {
        away.on = true;
        return fn();
      });
      await clock.advance(100);
      expect(away.failures).toBe(2);
      away.on = false;
      await clock.advance(100);
      expect(await call).toBe('charged');
      expect(await idem.executeDetailed('k', fn)).toEqual({ value: 'charged', source: 'replayed' });
      expect(fn).toHaveBeenCalledTimes(1);
    });

    it('rejects with StoreUnavailableError, running nothing, for a done record it cannot read', async () => {
      const store = memoryStore();
      const idem = idempotency({ store, clock: new FakeClock(), random: fixed });
      const fn = vi.fn(() => 'charged');
      const failed = (error: unknown) => ({ s: 'done', fp: null, outcome: { ok: false, error } });
      for (const junk of [
        { s: 'done' },
        { s: 'weird', fp: null },
        { s: 'done', outcome: 'yes' },
        // A damaged recorded error replayed as a TypeError from inside, or an error with no name and message.
        { s: 'done', fp: null, outcome: { ok: false } },
        failed(null),
        failed(5),
        failed({ name: 'Error' }),
        failed({ name: 'Error', message: 'declined', status: '402' }),
      ]) {
        await store.set('{idem:default|k}', junk, 60_000, 0);
        await expect(idem.execute('k', fn), JSON.stringify(junk)).rejects.toBeInstanceOf(StoreUnavailableError);
      }
      expect(fn).not.toHaveBeenCalled();
      await store.set('{idem:default|k}', failed({ name: 'CardError', message: 'declined', status: 402 }), 60_000, 0);
      await expect(idem.execute('k', fn)).rejects.toMatchObject({
        name: 'CardError',
        message: 'declined',
        status: 402,
      });
    });

    it('a recording whose answer was lost (written, then the store failed) is sent again and counts as recorded', async () => {
      const inner = memoryStore();
      let lose = 1;
      const store = storeOver(inner, {
        apply: async (key, t, input, now) => {
          const output = await inner.apply(key, t, input, now);
          if (t.name === 'idempotency.complete' && lose-- > 0) throw new StoreUnavailableError('redisStore: closed');
          return output;
        },
      });
      const clock = new FakeClock();
      const idem = idempotency({ store, clock, random: fixed, pollIntervalMs: 100 });
      const events: string[] = [];
      idem.onEvent((e) => events.push(e.type));
      const call = idem.executeDetailed('k', () => 'charged');
      await clock.advance(100);
      expect(await call).toEqual({ value: 'charged', source: 'executed' });
      expect(events).toEqual(['executed']); // no not_recorded (lock_lost)
      expect(await idem.executeDetailed('k', () => 'again')).toEqual({ value: 'charged', source: 'replayed' });
    });

    it('rejects with IdempotencyRecordError carrying the value when every attempt fails, and keeps the key in flight', async () => {
      const { store, away } = flaky(['idempotency.complete']);
      const clock = new FakeClock();
      const idem = idempotency({ store, clock, random: fixed, lockTimeoutMs: 10_000 });
      const events: string[] = [];
      idem.onEvent((e) => events.push(e.type));
      away.on = true;
      const fn = vi.fn(() => ({ receipt: 'r-1' }));
      const call = idem.execute('k', fn).catch((e: unknown) => e);
      await clock.advance(150);
      const error = (await call) as IdempotencyRecordError;
      expect(error).toBeInstanceOf(IdempotencyRecordError);
      expect(isIdempotencyRecordError(error)).toBe(true);
      expect(error).toMatchObject({
        code: 'record_failed',
        attempts: 3,
        outcome: { ok: true, value: { receipt: 'r-1' } },
      });
      expect(error.cause).toBeInstanceOf(StoreUnavailableError);
      expect(events).toEqual(['record_failed']);
      // The call ran: the key is not freed for a retry to run it again at once.
      away.on = false;
      await expect(idem.execute('k', fn, { onInFlight: 'reject' })).rejects.toMatchObject({ code: 'in_flight' });
      expect(fn).toHaveBeenCalledTimes(1);
      await clock.advance(10_000);
      expect(await idem.execute('k', fn)).toEqual({ receipt: 'r-1' });
      expect(fn).toHaveBeenCalledTimes(2);
    });

    it("rejects with IdempotencyRecordError carrying the call's error when a recorded error cannot be recorded", async () => {
      const { store, away } = flaky(['idempotency.complete']);
      const clock = new FakeClock();
      const idem = idempotency({ store, clock, random: fixed, recordErrors: true });
      away.on = true;
      const declined = new Error('card declined');
      const call = idem
        .execute('k', () => {
          throw declined;
        })
        .catch((e: unknown) => e);
      await clock.advance(150);
      expect(await call).toMatchObject({ code: 'record_failed', outcome: { ok: false, error: declined } });
    });

    it('gives an unrecorded error to its caller when freeing the key fails, reporting record_failed', async () => {
      const { store, away } = flaky(['idempotency.release']);
      const clock = new FakeClock();
      const idem = idempotency({ store, clock, random: fixed });
      const events: string[] = [];
      idem.onEvent((e) => events.push(e.type));
      away.on = true;
      const call = idem
        .execute('k', () => {
          throw new Error('upstream 503');
        })
        .catch((e: unknown) => e);
      await clock.advance(150);
      expect(await call).toMatchObject({ message: 'upstream 503' });
      expect(away.failures).toBe(3);
      expect(events).toEqual(['record_failed']);
    });

    it('gives an unrecorded value to its caller when freeing the key fails, reporting record_failed', async () => {
      const { store, away } = flaky(['idempotency.release']);
      const clock = new FakeClock();
      const idem = idempotency({ store, clock, random: fixed, lockTimeoutMs: 1_000 });
      const events: string[] = [];
      idem.onEvent((e) => events.push(e.type));
      away.on = true;
      const call = idem.executeDetailed('k', () => unrecorded('v', 'partial'));
      await clock.advance(100);
      expect(await call).toEqual({ value: 'v', source: 'executed', unrecorded: { reason: 'partial' } });
      expect([away.failures, events]).toEqual([3, ['record_failed', 'not_recorded']]);
      // The key frees itself after lockTimeoutMs.
      away.on = false;
      await clock.advance(1_000);
      expect(await idem.execute('k', () => 'later')).toBe('later');
    });

    it('does not retry an error that is not a store failure', async () => {
      const { store, away } = flaky(['idempotency.complete'], () => new TypeError('no script'));
      const idem = idempotency({ store, clock: new FakeClock(), random: fixed });
      away.on = true;
      await expect(idem.execute('k', () => 'v')).rejects.toMatchObject({ code: 'record_failed', attempts: 1 });
      expect(away.failures).toBe(1);
    });
  });

  describe('values JSON changes or cannot hold', () => {
    it('records a value in its JSON form (a Date as its ISO text) on every store, so a JSON store never leaves the key in flight', async () => {
      const at = new Date(Date.UTC(2024, 0, 2));
      for (const store of [memoryStore(), jsonRoundTripStore(memoryStore())]) {
        const idem = idempotency({ store, clock: new FakeClock(), random: fixed });
        const fn = vi.fn(() => ({ at, skipped: undefined, n: Number.NaN }));
        expect(await idem.execute('k', fn)).toEqual({ at, skipped: undefined, n: Number.NaN });
        expect(await idem.execute('k', fn)).toEqual({ at: '2024-01-02T00:00:00.000Z', n: null });
        expect(fn).toHaveBeenCalledTimes(1);
      }
    });

    it('records a value JSON cannot hold (a BigInt) as a TypeError, so the call never runs twice', async () => {
      const idem = idempotency({ clock: new FakeClock(), random: fixed });
      const fn = vi.fn(() => ({ total: 10n }));
      await expect(idem.execute('k', fn)).rejects.toThrow(/ran, but its value cannot be recorded.*BigInt/);
      const replay = await idem.execute('k', fn).catch((e: unknown) => e);
      expect(replay).toBeInstanceOf(ReplayedError);
      expect(replay).toMatchObject({ name: 'TypeError', message: expect.stringMatching(/cannot be recorded/) });
      expect(fn).toHaveBeenCalledTimes(1);
    });
  });

  it('rejects invalid options and arguments with ConfigurationError naming each', async () => {
    expect(() => idempotency({ ttlMs: 0, maxRecords: 1.5, lockTimeoutMs: -1, recordErrors: 'yes' as never })).toThrow(
      /ttlMs.*maxRecords.*lockTimeoutMs.*recordErrors/,
    );
    await expect(idempotency().execute('', () => 1)).rejects.toBeInstanceOf(ConfigurationError);
    const error = await idempotency()
      .execute('k', () => 1, { onInFlight: 'wait' as never, scope: '', fingerprint: 7 as never })
      .catch((e: unknown) => e);
    expect((error as ConfigurationError).issues.map((i) => i.option)).toEqual(['scope', 'fingerprint', 'onInFlight']);
    // A whole body as the fingerprint would sit in every record, outside maxRecordBytes: hash it.
    const fn = vi.fn(() => 1);
    await expect(idempotency().execute('k', fn, { fingerprint: 'x'.repeat(1_025) })).rejects.toThrow(
      /fingerprint: received "x+…, expected a string of at most 1024 characters \(a hash of the request\)/,
    );
    expect(fn).not.toHaveBeenCalled();
    expect(await idempotency().execute('k', () => 1, { fingerprint: 'x'.repeat(1_024) })).toBe(1);
  });

  it('refuses a per-call option it does not know (a misspelt fingerprint would switch the check off), before fn runs', async () => {
    const fn = vi.fn(() => 1);
    const error = await idempotency()
      .execute('k', fn, { fingerPrint: 'abc' } as never)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as ConfigurationError).issues.map((i) => i.option)).toEqual(['fingerPrint']);
    expect((error as Error).message).toMatch(/did you mean fingerprint\?/);
    expect(fn).not.toHaveBeenCalled();
    await expect(idempotency().executeDetailed('k', fn, { scope: 'a', sigal: undefined } as never)).rejects.toThrow(
      /sigal/,
    );
  });
});
