import { afterEach, describe, expect, it, vi } from 'vitest';
import { circuitBreaker } from '../breaker/breaker.js';
import { breakerRegistry } from '../breaker/registry.js';
import { FakeClock } from '../clock/fake-clock.js';
import { backoff } from '../retry/backoff.js';
import { retry } from '../retry/retry.js';
import { Emitter, onListenerError } from './emitter.js';

type Event = { type: 'tick'; n: number };

afterEach(() => {
  vi.restoreAllMocks();
});

describe('Emitter', () => {
  it('refuses a listener that is no function when it is given, not on the first event (where it broke the call)', () => {
    const clock = new FakeClock();
    const policy = retry({ clock });
    for (const listener of [undefined, null, 'log', {}]) {
      expect(() => policy.onEvent(listener as never)).toThrow(/expected a function, received/);
    }
    expect(() => breakerRegistry.onAdd(undefined as never)).toThrow(TypeError);
    expect(() => policy.observeCalls(undefined as never)).toThrow(TypeError);
    expect(() => circuitBreaker({ clock })).not.toThrow();
  });

  it('keeps each subscription of one function apart: disposing one leaves the other', () => {
    const emitter = new Emitter<Event>();
    const seen: number[] = [];
    const log = (e: Event) => seen.push(e.n);
    const first = emitter.subscribe(log);
    emitter.subscribe(log);
    first();
    first(); // twice is harmless
    emitter.emit({ type: 'tick', n: 1 });
    expect(seen).toEqual([1]);
  });

  it('calls every listener even when one throws', () => {
    vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const emitter = new Emitter<Event>();
    const seen: number[] = [];
    emitter.subscribe(() => {
      throw new Error('faulty listener');
    });
    emitter.subscribe((e) => seen.push(e.n));
    emitter.emit({ type: 'tick', n: 1 });
    expect(seen).toEqual([1]);
  });

  it('reports a throwing listener with one console.warn per listener by default', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const emitter = new Emitter<Event>();
    const first = new Error('first listener');
    emitter.subscribe(() => {
      throw first;
    });
    emitter.subscribe((e) => {
      if (e.n > 1) throw new Error('second listener');
    });
    emitter.emit({ type: 'tick', n: 1 });
    emitter.emit({ type: 'tick', n: 2 });
    emitter.emit({ type: 'tick', n: 3 });
    expect(warn).toHaveBeenCalledTimes(2);
    expect(warn.mock.calls[0]).toContain(first);
    expect(String(warn.mock.calls[0]![0])).toMatch(/listener threw.*onListenerError/);
  });

  it('reports an async listener’s rejection as its throw, not left unhandled (retry’s onRetry)', async () => {
    const reported: [unknown, unknown][] = [];
    const stop = onListenerError((error, event) => reported.push([error, event]));
    const failure = new Error('log sink down');
    const clock = new FakeClock();
    const policy = retry({
      clock,
      backoff: backoff.constant(0),
      maxAttempts: 2,
      handle: () => true,
      onRetry: async () => {
        throw failure;
      },
    });
    let calls = 0;
    const done = policy.execute(() => (++calls === 1 ? Promise.reject(new Error('once')) : 'ok'));
    await clock.runAll();
    expect(await done).toBe('ok');
    await Promise.resolve();
    expect(reported).toEqual([[failure, expect.objectContaining({ type: 'retry', attempt: 1 })]]);
    stop();
  });

  it('reports every listener error to onListenerError handlers instead, until disposed', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const emitter = new Emitter<Event>();
    const reported: [unknown, unknown][] = [];
    const stop = onListenerError((error, event) => reported.push([error, event]));
    const failure = new Error('faulty listener');
    emitter.subscribe(() => {
      throw failure;
    });
    emitter.emit({ type: 'tick', n: 1 });
    emitter.emit({ type: 'tick', n: 2 });
    expect(reported).toEqual([
      [failure, { type: 'tick', n: 1 }],
      [failure, { type: 'tick', n: 2 }],
    ]);
    expect(warn).not.toHaveBeenCalled();
    stop();
    stop();
    emitter.emit({ type: 'tick', n: 3 });
    expect(reported).toHaveLength(2);
    expect(warn).toHaveBeenCalledTimes(1);
  });

  it('takes only a function as handler', () => {
    expect(() => onListenerError('log' as never)).toThrow(new TypeError('onListenerError: expected a function'));
  });

  it('keeps the call’s outcome when a policy listener and the error handler both throw', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const stop = onListenerError(() => {
      throw new Error('faulty handler');
    });
    try {
      const clock = new FakeClock();
      const policy = retry({ backoff: backoff.constant(10), clock });
      policy.onRetry(() => {
        throw new Error('faulty onRetry');
      });
      let calls = 0;
      const result = policy.execute(() => {
        if (++calls === 1) throw Object.assign(new Error('reset'), { code: 'ECONNRESET' });
        return 'ok';
      });
      await clock.runAll();
      expect(await result).toBe('ok');
      expect(warn).toHaveBeenCalledTimes(1); // the handler's own failure, once
    } finally {
      stop();
    }
  });
});
