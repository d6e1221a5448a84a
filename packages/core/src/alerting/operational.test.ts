/**
 * The operators' loop end to end: policies report events, `observe` counts them, the
 * default rules alert on the counts, and the alerts resolve once the window forgets them.
 */
import { describe, expect, it } from 'vitest';
import { circuitBreaker } from '../breaker/breaker.js';
import { BreakerRegistry } from '../breaker/registry.js';
import { consecutive } from '../breaker/strategy.js';
import { FakeClock } from '../clock/fake-clock.js';
import { messageProcessor } from '../messages/processor.js';
import { metrics } from '../metrics/metrics.js';
import { observe } from '../metrics/observe.js';
import { transactions } from '../transaction/transaction.js';
import { alerting } from './alerting.js';
import type { Alert } from './options.js';

const lost = () => Object.assign(new Error('Connection terminated unexpectedly'), { code: 'ECONNRESET' });

describe('the default rules over observed events', () => {
  it('fire once each for a breaker opening, a poison message and a network rollback, then resolve', async () => {
    const clock = new FakeClock();
    const stats = metrics({ clock, windowMs: 60_000 });
    const breakers = new BreakerRegistry();
    observe(breakers, stats);
    const payments = circuitBreaker({ name: 'payments', registry: breakers, clock, strategy: consecutive(2) });
    const jobs = messageProcessor<{ id: string; body: string }>({
      handler: (m) => JSON.parse(m.body),
      deadLetter: () => {},
      clock,
    });
    observe(jobs, stats);
    const orders = transactions({ begin: () => ({}), commit: () => {}, rollback: () => {} }, { name: 'orders' });
    observe(orders, stats);

    const seen: Alert[] = [];
    const alerts = alerting({ clock, handlers: [(a) => void seen.push(a)] }); // defaultRules()
    alerts.start(stats, { intervalMs: 10_000 });

    for (let i = 0; i < 2; i++) await payments.execute(() => Promise.reject(new Error('HTTP 503'))).catch(() => {});
    expect(await jobs.process({ id: 'm1', body: '{"amount":' })).toEqual({ outcome: 'dead_lettered' });
    await expect(orders.run(() => Promise.reject(lost()))).rejects.toMatchObject({ phase: 'run' });

    await clock.advance(10_000);
    const firing = seen.map((a) => [a.name, a.status, a.value]);
    expect(firing).toEqual([
      ['breaker_opened', 'firing', 1],
      ['messages_dead_lettered', 'firing', 1],
      ['high_rollback_rate', 'firing', 1],
    ]);
    expect(seen.every((a) => a.severity === 'warning' && a.description !== undefined)).toBe(true);

    // Still in the window: nothing fires twice.
    await clock.advance(40_000);
    expect(seen).toHaveLength(3);
    expect(alerts.active().map((a) => a.name)).toEqual([
      'breaker_opened',
      'messages_dead_lettered',
      'high_rollback_rate',
    ]);

    // The window forgets the events: each alert resolves, once.
    await clock.advance(10_000);
    expect(seen.slice(3).map((a) => [a.name, a.status])).toEqual([
      ['breaker_opened', 'resolved'],
      ['messages_dead_lettered', 'resolved'],
      ['high_rollback_rate', 'resolved'],
    ]);
    await clock.advance(30_000);
    expect(seen).toHaveLength(6);
    expect(alerts.active()).toEqual([]);
    expect(alerts.history({ status: 'resolved' })).toHaveLength(3);
    alerts.stop();
  });

  it('fires the timeout-rate rule when more than 5 % of attempts time out', async () => {
    const clock = new FakeClock();
    const stats = metrics({ clock });
    for (let i = 0; i < 20; i++) stats.recordCall({ latencyMs: 5, ok: true });
    stats.recordTimeout();
    const alerts = alerting({ clock });
    expect(await alerts.evaluate(stats.snapshot())).toEqual([]); // exactly 5 %
    stats.recordTimeout();
    expect((await alerts.evaluate(stats.snapshot())).map((a) => [a.name, a.value])).toEqual([
      ['high_timeout_rate', 0.1],
    ]);
  });
});
