import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it, vi } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
import { circuitBreaker } from './breaker.js';
import { BREAKER_DEFAULTS, breakerPresets } from './options.js';
import { BreakerRegistry, breakerRegistry, worseBreakerState } from './registry.js';
import { consecutive } from './strategy.js';

describe('BreakerRegistry', () => {
  it('lists every live breaker with its name, state and time to the next probe', async () => {
    const registry = new BreakerRegistry();
    const clock = new FakeClock();
    const a = circuitBreaker({ name: 'payments', registry, clock, strategy: consecutive(1), halfOpenAfter: 500 });
    circuitBreaker({ name: 'search', registry, clock });
    await a.execute(() => Promise.reject(new Error('down'))).catch(() => undefined);
    expect(registry.list()).toEqual([
      { name: 'payments', state: 'open', retryAfterMs: 500, count: 1 },
      { name: 'search', state: 'closed', retryAfterMs: 0, count: 1 },
    ]);
    expect(registry.get('payments')).toEqual([a]);
    expect(registry.size).toBe(2);
  });

  it('tells onAdd listeners of each breaker as it joins, until disposed', () => {
    const registry = new BreakerRegistry();
    const joined: string[] = [];
    circuitBreaker({ name: 'before', registry });
    const stop = registry.onAdd((b) => joined.push(b.name));
    circuitBreaker({ name: 'payments', registry });
    stop();
    circuitBreaker({ name: 'after', registry });
    expect(joined).toEqual(['payments']);
  });

  it('lists breakers sharing a name as one row with the worst state: an open one never shows as closed', async () => {
    const registry = new BreakerRegistry();
    const clock = new FakeClock();
    // Unnamed breakers share the default name; so does a breaker re-created by a hot reload.
    const old = circuitBreaker({ registry, clock, strategy: consecutive(1), halfOpenAfter: 500 });
    const fresh = circuitBreaker({ registry, clock });
    await old.execute(() => Promise.reject(new Error('down'))).catch(() => undefined);
    expect(registry.list()).toEqual([{ name: 'circuit-breaker', state: 'open', retryAfterMs: 500, count: 2 }]);
    const isolation = fresh.isolate();
    expect(registry.list()[0]).toMatchObject({ state: 'isolated', retryAfterMs: Number.POSITIVE_INFINITY });
    isolation();
    old.dispose(); // the replaced breaker leaves at once, not when it is collected
    expect(registry.list()).toEqual([{ name: 'circuit-breaker', state: 'closed', retryAfterMs: 0, count: 1 }]);
    expect(registry.get('circuit-breaker')).toEqual([fresh]);
    expect(registry.size).toBe(1);
  });

  it('ranks states isolated > open > half-open > closed, an unknown state as open', () => {
    expect(worseBreakerState('closed', 'half-open')).toBe('half-open');
    expect(worseBreakerState('open', 'half-open')).toBe('open');
    expect(worseBreakerState('open', 'isolated')).toBe('isolated');
    expect(worseBreakerState('forced_open', 'closed')).toBe('forced_open');
    expect(worseBreakerState('forced_open', 'isolated')).toBe('isolated');
  });

  it('joins the shared breakerRegistry by default and leaves it on dispose()', () => {
    const breaker = circuitBreaker({ name: 'registry-default-test' });
    expect(breakerRegistry.get('registry-default-test')).toEqual([breaker]);
    breaker.dispose();
    breaker.dispose();
    expect(breakerRegistry.get('registry-default-test')).toEqual([]);
  });

  it('is one registry for every copy of core in the process (an ESM app requiring the CJS entry too)', async () => {
    vi.resetModules();
    const copy = (await import('./registry.js?copy' as string)) as typeof import('./registry.js');
    const breakers = await import('./breaker.js?copy' as string);
    expect(copy.BreakerRegistry).not.toBe(BreakerRegistry); // another copy of the module
    expect(copy.breakerRegistry).toBe(breakerRegistry);
    const breaker = breakers.circuitBreaker({ name: 'copied' });
    expect(breakerRegistry.list().map((b) => b.name)).toContain('copied');
    breaker.dispose();
  });

  it('tells onAdd listeners of each breaker that joins, until they unsubscribe', () => {
    const registry = new BreakerRegistry();
    const added: string[] = [];
    const stop = registry.onAdd((breaker) => added.push(breaker.name));
    circuitBreaker({ name: 'payments', registry });
    stop();
    circuitBreaker({ name: 'search', registry });
    expect(added).toEqual(['payments']);
  });

  it('is not joined with registry: false', () => {
    const before = breakerRegistry.size;
    circuitBreaker({ registry: false });
    expect(breakerRegistry.size).toBe(before);
  });

  it('does not keep a breaker alive: a collected breaker leaves the list', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const registry = new BreakerRegistry();
    (() => {
      for (let i = 0; i < 10; i++) circuitBreaker({ name: `temp-${i}`, registry });
    })();
    const kept = circuitBreaker({ name: 'kept', registry });
    // WeakRef targets stay alive until the current job ends (and deref() renews that), so
    // collect only after yielding to the event loop.
    const tick = () => new Promise((resolve) => setImmediate(resolve));
    for (let i = 0; i < 5 && registry.size > 1; i++) {
      await tick();
      gc();
      await tick();
    }
    expect(registry.list().map((b) => b.name)).toEqual(['kept']);
    expect(kept.state).toBe('closed');
  });
});

describe('breaker defaults and presets', () => {
  it('pins the defaults', () => {
    expect(BREAKER_DEFAULTS).toMatchObject({ halfOpenAfterMs: 30_000, halfOpenMaxCalls: 1, name: 'circuit-breaker' });
    expect(BREAKER_DEFAULTS.strategy.kind).toBe('consecutive');
    expect(BREAKER_DEFAULTS.strategy.createWindow().snapshot()).toEqual({ kind: 'consecutive', failures: 0 });
  });

  it('httpProvider opens when 5 of the last 10 calls failed and stays open 30 s', async () => {
    const clock = new FakeClock();
    const breaker = circuitBreaker({ ...breakerPresets.httpProvider, clock, registry: false });
    for (let i = 0; i < 5; i++) await breaker.execute(() => 1);
    for (let i = 0; i < 4; i++) await breaker.execute(() => Promise.reject(new Error('503'))).catch(() => 0);
    expect(breaker.state).toBe('closed');
    await breaker.execute(() => Promise.reject(new Error('503'))).catch(() => 0);
    expect(breaker.state).toBe('open');
    expect(breaker.retryAfterMs).toBe(30_000);
  });

  it('llm opens after 3 failures in a row and stays open 60 s', async () => {
    const clock = new FakeClock();
    const breaker = circuitBreaker({ ...breakerPresets.llm, clock, registry: false });
    for (let i = 0; i < 3; i++) await breaker.execute(() => Promise.reject(new Error('overloaded'))).catch(() => 0);
    expect(breaker.state).toBe('open');
    expect(breaker.retryAfterMs).toBe(60_000);
  });
});
