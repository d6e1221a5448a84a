import { afterEach, describe, expect, it, vi } from 'vitest';
import { emitHttpDecision, type HttpDecision, onHttpDecision } from './decisions.js';

const KEY = Symbol.for('@resilience/core:http-decisions');

afterEach(() => {
  vi.restoreAllMocks();
});

describe('onHttpDecision', () => {
  it('hears every decision an adapter emits, until disposed', () => {
    const heard: HttpDecision[] = [];
    const stop = onHttpDecision((d) => heard.push(d));
    emitHttpDecision({ decision: 'rate_limited', policy: 'api' });
    emitHttpDecision({ decision: 'replayed' });
    stop();
    stop();
    emitHttpDecision({ decision: 'shed' });
    expect(heard).toEqual([{ decision: 'rate_limited', policy: 'api' }, { decision: 'replayed' }]);
  });

  it('leaves nothing on globalThis once the last listener is gone, so an emit is one property read', () => {
    const stop = onHttpDecision(() => {});
    expect((globalThis as Record<symbol, unknown>)[KEY]).toBeDefined();
    stop();
    expect(KEY in globalThis).toBe(false);
  });

  it('is shared by every copy of core (ESM and CJS, two versions)', async () => {
    vi.resetModules();
    const copy = (await import('./decisions.js')) as typeof import('./decisions.js');
    expect(copy.onHttpDecision).not.toBe(onHttpDecision);
    const heard: HttpDecision[] = [];
    const stop = copy.onHttpDecision((d) => heard.push(d));
    emitHttpDecision({ decision: 'timed_out' });
    stop();
    expect(heard).toEqual([{ decision: 'timed_out' }]);
  });

  it('reports a listener that throws and still calls the others', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const heard: HttpDecision[] = [];
    const stops = [
      onHttpDecision(() => {
        throw new Error('faulty listener');
      }),
      onHttpDecision((d) => heard.push(d)),
    ];
    emitHttpDecision({ decision: 'shed' });
    for (const stop of stops) stop();
    expect(heard).toEqual([{ decision: 'shed' }]);
    expect(warn).toHaveBeenCalledTimes(1);
  });

  it('takes only a function', () => {
    expect(() => onHttpDecision('log' as never)).toThrow(new TypeError('onHttpDecision: expected a function'));
  });
});
