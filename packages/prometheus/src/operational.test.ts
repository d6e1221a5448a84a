import {
  BreakerRegistry,
  circuitBreaker,
  consecutive,
  messageProcessor,
  metrics,
  observe,
  transactions,
} from '@resilience/core';
import { FakeClock } from '@resilience/core/testing';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { registerResilienceMetrics } from './index.js';
import { find, scrape } from './scrape.test-helper.js';

const lost = () => Object.assign(new Error('Connection terminated unexpectedly'), { code: 'ECONNRESET' });
const values = (samples: ReturnType<typeof find>, label: string) =>
  Object.fromEntries(samples.map((s) => [s.labels[label], s.value]));

describe('registerResilienceMetrics: what the runbooks alert on', () => {
  it('exports breaker opens by name, dead letters and rollbacks by reason, commits and timeouts from observed sources', async () => {
    const clock = new FakeClock();
    const stats = metrics({ clock });
    const breakers = new BreakerRegistry();
    observe(breakers, stats);
    const payments = circuitBreaker({ name: 'payments', registry: breakers, clock, strategy: consecutive(1) });
    await payments.execute(() => Promise.reject(new Error('HTTP 503'))).catch(() => {});
    const jobs = messageProcessor<{ id: string }>({
      handler: () => JSON.parse('{'),
      deadLetter: () => {},
      clock,
    });
    observe(jobs, stats);
    await jobs.process({ id: 'm1' });
    const orders = transactions({ begin: () => ({}), commit: () => {}, rollback: () => {} }, { name: 'orders' });
    observe(orders, stats);
    await orders.run(() => 1);
    await orders.run(() => Promise.reject(lost())).catch(() => {});
    stats.recordTimeout();

    const registry = new Registry();
    registerResilienceMetrics(registry, { collectors: stats });
    const { samples, types } = await scrape(registry);
    expect(find(samples, 'resilience_circuit_breaker_opens_total')).toEqual([
      { name: 'resilience_circuit_breaker_opens_total', labels: { name: 'payments' }, value: 1 },
    ]);
    // Every reason is listed from the start, so rate() sees a series go from 0 rather than appear.
    expect(values(find(samples, 'resilience_messages_dead_lettered_total'), 'reason')).toEqual({
      poison: 1,
      max_retries_exceeded: 0,
    });
    expect(values(find(samples, 'resilience_transaction_rollbacks_total'), 'reason')).toEqual({
      network_error: 1,
      error: 0,
      outcome_unknown: 0,
    });
    expect(find(samples, 'resilience_transaction_commits_total')[0]?.value).toBe(1);
    expect(find(samples, 'resilience_timeouts_total')[0]?.value).toBe(1);
    expect(types).toMatchObject({
      resilience_circuit_breaker_opens_total: 'counter',
      resilience_messages_dead_lettered_total: 'counter',
      resilience_transaction_rollbacks_total: 'counter',
      resilience_transaction_commits_total: 'counter',
      resilience_timeouts_total: 'counter',
    });
  });

  it('keeps breaker names bounded: at most 32 series per collector, the rest under other', async () => {
    const stats = metrics({ clock: new FakeClock() });
    for (let i = 0; i < 100; i++) stats.recordStateChange(`host-${i}`, 'open');
    const registry = new Registry();
    registerResilienceMetrics(registry, { collectors: stats });
    const opens = find((await scrape(registry)).samples, 'resilience_circuit_breaker_opens_total');
    expect(opens).toHaveLength(33);
    expect(opens.find((s) => s.labels.name === 'other')?.value).toBe(68);
  });

  it('keeps circuit_state names bounded: the first 32 names met, later ones under other with their worst state', async () => {
    const breakers = new BreakerRegistry();
    const registry = new Registry();
    registerResilienceMetrics(registry, { breakers });
    // A client's breakers are named per host, and the hosts may come from requests (webhook targets).
    const hosts = Array.from({ length: 40 }, (_, i) =>
      circuitBreaker({ name: `http-client:host-${i}.example`, registry: breakers, strategy: consecutive(1) }),
    );
    await hosts[39]!.execute(() => Promise.reject(lost())).catch(() => {});
    const states = find((await scrape(registry)).samples, 'resilience_circuit_state');
    expect(new Set(states.map((s) => s.labels.name)).size).toBe(33);
    expect(values(find(states, 'resilience_circuit_state', { name: 'other' }), 'state')).toEqual({
      closed: 0,
      open: 1,
      'half-open': 0,
      isolated: 0,
    });
  });

  // A webhook target's host may be tens of kilobytes long, and a client names its breaker after
  // it; a name is cut one short rather than inside a surrogate pair (half an emoji is U+FFFD).
  it.each([
    ['to 48 characters', `http-client:${'a'.repeat(70_000)}.example`, `http-client:${'a'.repeat(36)}`],
    ['one short rather than inside a surrogate pair', `${'a'.repeat(47)}😀-host`, 'a'.repeat(47)],
  ])(
    'cuts a long breaker name in circuit_state %s, as the collector cuts it in breaker opens',
    async (_, name, cut) => {
      const stats = metrics({ clock: new FakeClock() });
      const breakers = new BreakerRegistry();
      const breaker = circuitBreaker({ name, registry: breakers, strategy: consecutive(1) });
      observe(breaker, stats);
      const registry = new Registry();
      registerResilienceMetrics(registry, { collectors: stats, breakers });
      await breaker.execute(() => Promise.reject(lost())).catch(() => {});
      const { samples } = await scrape(registry);
      const [opened] = find(samples, 'resilience_circuit_breaker_opens_total');
      const state = find(samples, 'resilience_circuit_state', { state: 'open' });
      expect(opened!.labels.name).toBe(cut);
      expect(state.map((s) => [s.labels.name, s.value])).toEqual([[cut, 1]]);
    },
  );

  it('labels the collector as collector in breaker opens, since name is the breaker', async () => {
    const api = metrics({ clock: new FakeClock() });
    const jobs = metrics({ clock: new FakeClock() });
    api.recordStateChange('payments', 'open');
    jobs.recordStateChange('payments', 'open');
    jobs.recordStateChange('payments', 'open');
    const registry = new Registry();
    registerResilienceMetrics(registry, { collectors: { api, jobs } });
    const { samples } = await scrape(registry);
    expect(find(samples, 'resilience_circuit_breaker_opens_total').map((s) => [s.labels, s.value])).toEqual([
      [{ collector: 'api', name: 'payments' }, 1],
      [{ collector: 'jobs', name: 'payments' }, 2],
    ]);
    expect(find(samples, 'resilience_messages_dead_lettered_total', { name: 'jobs', reason: 'poison' })).toHaveLength(
      1,
    );
  });
});
