import { describe, expect, it } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
import { METRICS_DEFAULTS, metrics } from './index.js';

describe('metrics: operational events', () => {
  it('counts breaker opens over the window and, by breaker, over its lifetime', async () => {
    const clock = new FakeClock();
    const stats = metrics({ clock });
    stats.recordStateChange('payments', 'open');
    stats.recordStateChange('payments', 'half-open');
    stats.recordStateChange('payments', 'open');
    stats.recordStateChange('search', 'open');
    stats.recordStateChange('search', 'closed');
    expect(stats.snapshot().breakerOpens).toBe(3);
    await clock.advance(60_000);
    const s = stats.snapshot();
    expect(s.breakerOpens).toBe(0);
    expect(s.lifetime.breakerOpens).toEqual({ payments: 2, search: 1 });
  });

  it('keeps at most 32 breaker names in the lifetime opens, the rest under other', () => {
    const stats = metrics({ clock: new FakeClock() });
    for (let i = 0; i < 40; i++) stats.recordStateChange(`b${i}`, 'open');
    const opens = stats.snapshot().lifetime.breakerOpens;
    expect(Object.keys(opens)).toHaveLength(METRICS_DEFAULTS.maxLabels + 1);
    expect(opens.other).toBe(40 - METRICS_DEFAULTS.maxLabels);
    expect(stats.snapshot().breakerOpens).toBe(40);
  });

  it('counts dead-lettered messages by reason, over the window and the lifetime', async () => {
    const clock = new FakeClock();
    const stats = metrics({ clock });
    stats.recordDeadLetter('poison');
    stats.recordDeadLetter('poison');
    stats.recordDeadLetter('max_retries_exceeded');
    expect(stats.snapshot()).toMatchObject({
      deadLetters: 3,
      deadLettersByReason: { poison: 2, max_retries_exceeded: 1 },
    });
    await clock.advance(60_000);
    expect(stats.snapshot()).toMatchObject({
      deadLetters: 0,
      deadLettersByReason: { poison: 0, max_retries_exceeded: 0 },
      lifetime: { deadLetters: { poison: 2, max_retries_exceeded: 1 } },
    });
  });

  it('counts commits and rollbacks by reason, and the share of transactions rolled back', async () => {
    const clock = new FakeClock();
    const stats = metrics({ clock });
    expect(stats.snapshot()).toMatchObject({ transactions: 0, rollbacks: 0, rollbackRate: 0 });
    for (let i = 0; i < 7; i++) stats.recordCommit();
    stats.recordRollback('network_error');
    stats.recordRollback('error');
    stats.recordRollback('outcome_unknown');
    expect(stats.snapshot()).toMatchObject({
      transactions: 10,
      rollbacks: 3,
      rollbacksByReason: { network_error: 1, error: 1, outcome_unknown: 1 },
      rollbackRate: 0.3,
    });
    await clock.advance(60_000);
    expect(stats.snapshot()).toMatchObject({
      transactions: 0,
      rollbackRate: 0,
      lifetime: { commits: 7, rollbacks: { network_error: 1, error: 1, outcome_unknown: 1 } },
    });
  });

  it('gives the timeout rate per call, or per attempt when retry policies report attempts', () => {
    const stats = metrics({ clock: new FakeClock() });
    expect(stats.snapshot().timeoutRate).toBe(0);
    stats.recordTimeout(); // a timeout with no call counted yet: no rate to speak of
    expect(stats.snapshot().timeoutRate).toBe(0);
    for (let i = 0; i < 4; i++) stats.recordCall({ latencyMs: 1, ok: true });
    expect(stats.snapshot().timeoutRate).toBe(0.25);
    stats.recordAttempts(10); // each attempt could time out: the rate is per attempt
    expect(stats.snapshot().timeoutRate).toBe(0.1);
  });

  it('counts shed and rate-limited requests, each also as a rejection', async () => {
    const clock = new FakeClock();
    const stats = metrics({ clock });
    stats.recordShed();
    stats.recordShed();
    stats.recordRateLimited();
    const s = stats.snapshot();
    expect([s.shed, s.rateLimited, s.rejections]).toEqual([2, 1, 3]);
    expect(s.lifetime).toMatchObject({ shed: 2, rateLimited: 1, rejections: { shed: 2, rate_limited: 1 } });
    await clock.advance(60_000);
    expect(stats.snapshot()).toMatchObject({ shed: 0, rateLimited: 0, lifetime: { shed: 2, rateLimited: 1 } });
  });

  it('rejects a dead-letter or rollback reason it does not know, saying which it takes', () => {
    const stats = metrics({ clock: new FakeClock() });
    expect(() => stats.recordDeadLetter('expired' as never)).toThrow(
      new TypeError("recordDeadLetter: expected 'poison' or 'max_retries_exceeded', received expired"),
    );
    expect(() => stats.recordRollback('oops' as never)).toThrow(/'network_error', 'error' or 'outcome_unknown'/);
  });

  it('forgets every operational count on reset', () => {
    const stats = metrics({ clock: new FakeClock() });
    stats.recordStateChange('payments', 'open');
    stats.recordDeadLetter('poison');
    stats.recordRollback('error');
    stats.recordShed();
    stats.reset();
    const s = stats.snapshot();
    expect([s.breakerOpens, s.deadLetters, s.rollbacks, s.shed]).toEqual([0, 0, 0, 0]);
    expect(s.lifetime).toMatchObject({ breakerOpens: {}, deadLetters: { poison: 0 }, shed: 0 });
  });

  it('reports the worst state of breakers sharing a name, as the breaker registry does', () => {
    const stats = metrics({ clock: new FakeClock() });
    const old = {};
    const fresh = {};
    stats.recordStateChange('payments', 'open', old);
    stats.recordStateChange('payments', 'open', fresh);
    stats.recordStateChange('payments', 'half-open', fresh);
    stats.recordStateChange('payments', 'closed', fresh);
    // The last word came from `fresh`, but `old` is still open.
    expect(stats.snapshot().lifetime.circuits).toEqual({ payments: 'open' });
    stats.recordStateChange('payments', 'closed', old);
    expect(stats.snapshot().lifetime.circuits).toEqual({ payments: 'closed' });
  });

  it('lists a breaker named __proto__ among the circuits, as it counts its opens', () => {
    const stats = metrics({ clock: new FakeClock() });
    stats.recordStateChange('__proto__', 'open', {});
    const { circuits, breakerOpens } = stats.snapshot().lifetime;
    expect(Object.keys(circuits)).toEqual(['__proto__']);
    expect(Object.keys(breakerOpens)).toEqual(['__proto__']);
  });
});
