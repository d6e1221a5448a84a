import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it, vi } from 'vitest';
import { circuitBreaker } from '../breaker/breaker.js';
import { BreakerRegistry } from '../breaker/registry.js';
import { consecutive } from '../breaker/strategy.js';
import { FakeClock } from '../clock/fake-clock.js';
import { messageProcessor } from '../messages/processor.js';
import { pipeline } from '../pipeline/pipeline.js';
import { transactions } from '../transaction/transaction.js';
import { metrics } from './metrics.js';
import { observe } from './observe.js';

const down = () => Promise.reject(new Error('HTTP 503'));
const lost = () => Object.assign(new Error('Connection terminated unexpectedly'), { code: 'ECONNRESET' });
const tx = (commit: () => unknown = () => {}) => ({ begin: () => ({}), commit, rollback: () => {} });

describe('observe: registries, message processors and transactions', () => {
  it('counts the opens of every breaker in a registry, those created later included, until disposed', async () => {
    const clock = new FakeClock();
    const registry = new BreakerRegistry();
    const make = (name: string) => circuitBreaker({ name, registry, clock, strategy: consecutive(1) });
    const payments = make('payments');
    const stop = observe(registry, metrics({ clock }));
    const search = make('search');
    await payments.execute(down).catch(() => {});
    await search.execute(down).catch(() => {});
    const s = stop.collector.snapshot();
    expect(s.breakerOpens).toBe(2);
    expect(s.lifetime.breakerOpens).toEqual({ payments: 1, search: 1 });
    expect(s.lifetime.circuits).toEqual({ payments: 'open', search: 'open' });
    // Events only: a registry's calls belong to the pipelines that make them.
    expect(s.calls).toBe(0);
    stop();
    await clock.advance(60_000);
    await make('later')
      .execute(down)
      .catch(() => {});
    await payments.execute(() => 'probe');
    expect(stop.collector.snapshot().lifetime.stateChanges).toBe(2);
  });

  it('counts an event once when a breaker is observed through its registry and through a pipeline', async () => {
    const clock = new FakeClock();
    const registry = new BreakerRegistry();
    const breaker = circuitBreaker({ name: 'payments', registry, clock, strategy: consecutive(1) });
    const stats = metrics({ clock });
    observe(registry, stats);
    observe(pipeline(breaker), stats);
    await breaker.execute(down).catch(() => {});
    expect(stats.snapshot().lifetime.breakerOpens).toEqual({ payments: 1 });
  });

  it('reports the worst state of same-named breakers in a registry: one closing does not hide another open', async () => {
    const clock = new FakeClock();
    const registry = new BreakerRegistry();
    const options = { name: 'payments', registry, clock, strategy: consecutive(1) };
    const old = circuitBreaker({ ...options, halfOpenAfter: 60_000 });
    const fresh = circuitBreaker({ ...options, halfOpenAfter: 1_000 });
    const stats = observe(registry, metrics({ clock })).collector;
    await old.execute(down).catch(() => {});
    await fresh.execute(down).catch(() => {});
    await clock.advance(1_000);
    await fresh.execute(() => 'recovered'); // the last word, 'closed', comes from fresh
    expect(stats.snapshot().lifetime.circuits).toEqual({ payments: 'open' });
    expect(registry.list()[0]?.state).toBe('open');
  });

  it('counts the messages a processor dead-letters, by reason, and the attempts its time limits end', async () => {
    const clock = new FakeClock();
    const processor = messageProcessor<{ id: string }>({
      handler: (m) =>
        m.id === 'bad' ? JSON.parse('{') : m.id === 'slow' ? clock.sleep(10_000) : Promise.reject(lost()),
      deadLetter: vi.fn(),
      maxAttempts: 2,
      hardTimeoutMs: 1_000,
      clock,
    });
    const stats = observe(processor, metrics({ clock })).collector;
    await processor.process({ id: 'bad' });
    await processor.process({ id: 'flaky' });
    await processor.process({ id: 'flaky' });
    const slow = processor.process({ id: 'slow' });
    await clock.advance(1_000);
    await slow;
    expect(stats.snapshot()).toMatchObject({
      deadLetters: 2,
      deadLettersByReason: { poison: 1, max_retries_exceeded: 1 },
      timeouts: 1,
    });
  });

  it('counts the commits and rollbacks of a transactions wrapper, by reason', async () => {
    const clock = new FakeClock();
    const orders = transactions(tx(), { name: 'orders' });
    const unknown = transactions(tx(() => Promise.reject(lost())));
    const stats = metrics({ clock });
    observe(orders, stats);
    observe(unknown, stats);
    await orders.run(() => 1);
    await orders.run(() => Promise.reject(lost())).catch(() => {});
    await orders.run(() => Promise.reject(new Error('constraint'))).catch(() => {});
    await unknown.run(() => 1).catch(() => {});
    expect(stats.snapshot()).toMatchObject({
      transactions: 4,
      rollbacks: 3,
      rollbacksByReason: { network_error: 1, error: 1, outcome_unknown: 1 },
      rollbackRate: 0.75,
      lifetime: { commits: 1 },
    });
  });

  it('keeps no breaker of an observed registry alive: a collected one leaves the registry and the circuit states', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const clock = new FakeClock();
    const registry = new BreakerRegistry();
    const stats = observe(registry, metrics({ clock })).collector;
    await (async () => {
      for (let i = 0; i < 10; i++) {
        const temp = circuitBreaker({ name: `temp-${i}`, registry, clock, strategy: consecutive(1) });
        await temp.execute(down).catch(() => {});
      }
    })();
    const kept = circuitBreaker({ name: 'kept', registry, clock, strategy: consecutive(1) });
    await kept.execute(down).catch(() => {});
    expect(Object.keys(stats.snapshot().lifetime.circuits)).toHaveLength(11);
    // WeakRef targets stay alive until the current job ends: collect only after yielding.
    const tick = () => new Promise((resolve) => setImmediate(resolve));
    for (let i = 0; i < 5 && registry.size > 1; i++) {
      await tick();
      gc();
      await tick();
    }
    expect(registry.list().map((b) => b.name)).toEqual(['kept']);
    const s = stats.snapshot();
    expect(s.lifetime.circuits).toEqual({ kept: 'open' });
    expect(Object.keys(s.lifetime.breakerOpens)).toHaveLength(11); // counts stay: they happened
  });

  it('rejects a registry without onAdd, naming the source', () => {
    expect(() => observe({ breakers: () => [] } as never)).toThrow(/source/);
  });
});
