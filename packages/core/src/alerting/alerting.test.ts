import { describe, expect, it, vi } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
import { ConfigurationError } from '../errors/errors.js';
import { onListenerError } from '../events/emitter.js';
import { metrics } from '../metrics/metrics.js';
import { alerting } from './alerting.js';
import type { Alert } from './options.js';
import { defaultRules, rule } from './rule.js';

const errorRate = (value: number) => ({
  errorRate: value,
  latency: { p95: 0 },
  cache: { hits: 0, misses: 0, hitRate: 0 },
});
const highErrors = (extra: { forMs?: number; cooldownMs?: number } = {}) =>
  rule({ name: 'errors', metric: 'errorRate', op: 'gt', threshold: 0.1, severity: 'critical', ...extra });

describe('alerting', () => {
  it('rejects bad options naming each one', () => {
    const bad = () =>
      alerting({ rules: [highErrors(), highErrors()], handlers: ['x' as never], maxHistory: -1, clock: {} as never });
    expect(bad).toThrow(ConfigurationError);
    for (const option of ['rules', 'handlers', 'maxHistory', 'clock']) expect(bad).toThrow(option);
  });

  it('fires when the condition holds and returns the alert with its value', async () => {
    const clock = new FakeClock(1_000);
    const alerts = alerting({ rules: [highErrors()], clock });
    expect(await alerts.evaluate(errorRate(0.05))).toEqual([]);
    expect(await alerts.evaluate(errorRate(0.5))).toEqual([
      {
        name: 'errors',
        metric: 'errorRate',
        severity: 'critical',
        value: 0.5,
        threshold: 0.1,
        status: 'firing',
        at: 1_000,
      },
    ]);
  });

  it('fires once while the condition keeps holding, then sends a resolved notification', async () => {
    const seen: Alert[] = [];
    const alerts = alerting({ rules: [highErrors()], handlers: [(a) => void seen.push(a)], clock: new FakeClock() });
    await alerts.evaluate(errorRate(0.5));
    expect(await alerts.evaluate(errorRate(0.6))).toEqual([]);
    expect(alerts.active()).toHaveLength(1);
    // The resolved notification reaches the handlers and the history; evaluate returns only what fired.
    expect(await alerts.evaluate(errorRate(0.01))).toEqual([]);
    expect(seen.map((a) => a.status)).toEqual(['firing', 'resolved']);
    expect(seen[1]).toMatchObject({ name: 'errors', status: 'resolved', value: 0.01 });
    expect(alerts.history().map((a) => a.status)).toEqual(['firing', 'resolved']);
    expect(alerts.active()).toEqual([]);
    expect(await alerts.evaluate(errorRate(0.01))).toEqual([]);
    expect(seen).toHaveLength(2);
  });

  it('returns only the alerts that fired when another rule resolves in the same evaluation', async () => {
    const slow = rule({ name: 'slow', metric: 'latency.p95', op: 'gt', threshold: 100, severity: 'warning' });
    const alerts = alerting({ rules: [highErrors(), slow], clock: new FakeClock() });
    await alerts.evaluate(errorRate(0.5));
    const fired = await alerts.evaluate({ ...errorRate(0), latency: { p95: 500 } });
    expect(fired).toMatchObject([{ name: 'slow', status: 'firing' }]);
    expect(alerts.stats).toMatchObject({ fired: 2, resolved: 1, active: 1 });
  });

  it('waits forMs: fires at the first evaluation at which the condition has held that long', async () => {
    const clock = new FakeClock();
    const alerts = alerting({ rules: [highErrors({ forMs: 30_000 })], clock });
    expect(await alerts.evaluate(errorRate(0.5))).toEqual([]); // held since t=0
    await clock.advance(29_999);
    expect(await alerts.evaluate(errorRate(0.5))).toEqual([]);
    await clock.advance(1);
    expect(await alerts.evaluate(errorRate(0.5))).toMatchObject([{ status: 'firing', at: 30_000 }]);
  });

  it('restarts the forMs count when the condition stops holding in between', async () => {
    const clock = new FakeClock();
    const alerts = alerting({ rules: [highErrors({ forMs: 10_000 })], clock });
    await alerts.evaluate(errorRate(0.5));
    await clock.advance(5_000);
    await alerts.evaluate(errorRate(0)); // breaks the run; nothing was firing, so nothing resolves
    await clock.advance(5_000);
    expect(await alerts.evaluate(errorRate(0.5))).toEqual([]);
    await clock.advance(10_000);
    expect(await alerts.evaluate(errorRate(0.5))).toHaveLength(1);
  });

  it('holds back re-firing within cooldownMs of the last firing and counts it', async () => {
    const clock = new FakeClock();
    const alerts = alerting({ rules: [highErrors({ cooldownMs: 60_000 })], clock });
    expect(await alerts.evaluate(errorRate(0.5))).toHaveLength(1);
    await clock.advance(10_000);
    expect(await alerts.evaluate(errorRate(0))).toEqual([]);
    expect(alerts.stats.resolved).toBe(1);
    await clock.advance(10_000);
    expect(await alerts.evaluate(errorRate(0.5))).toEqual([]);
    expect(alerts.stats.suppressed).toBe(1);
    await clock.advance(40_000);
    expect(await alerts.evaluate(errorRate(0.5))).toMatchObject([{ status: 'firing', at: 60_000 }]);
  });

  it('neither holds a cooldown nor a forMs for the length of a clock step back', async () => {
    let now = 10_000_000;
    const clock = Object.assign(new FakeClock(), { now: () => now });
    const alerts = alerting({
      rules: [highErrors({ cooldownMs: 60_000 }), { ...highErrors({ forMs: 5_000 }), name: 'held' }],
      clock,
    });
    expect((await alerts.evaluate(errorRate(0.5))).map((a) => a.name)).toEqual(['errors']);
    expect(await alerts.evaluate(errorRate(0))).toEqual([]);
    now -= 3_600_000; // an NTP correction of an hour
    expect((await alerts.evaluate(errorRate(0.5))).map((a) => a.name)).toEqual(['errors']);
    now += 5_000;
    expect((await alerts.evaluate(errorRate(0.5))).map((a) => a.name)).toEqual(['held']);
  });

  it('awaits a source whose snapshot() answers asynchronously', async () => {
    const clock = new FakeClock();
    const alerts = alerting({ rules: [highErrors()], clock });
    alerts.start({ snapshot: async () => errorRate(0.9) }, { intervalMs: 1_000 });
    await clock.advance(1_000);
    expect(alerts.active().map((a) => a.name)).toEqual(['errors']);
    expect(alerts.stats.evaluationErrors).toBe(0);
    alerts.stop();
  });

  it('refuses an async when guard, whose promise would read as yes', () => {
    expect(() =>
      rule({
        name: 'r',
        metric: 'errorRate',
        op: 'gt',
        threshold: 0,
        severity: 'warning',
        when: (async () => false) as never,
      }),
    ).toThrow(/when: received .*not async/);
  });

  it('checks a rule written by hand as rule() checks one, naming what is wrong', () => {
    const byHand = { name: 'r', metric: 'errorRate', op: 'greater_than', threshold: 0.05, severity: 'critical' };
    expect(() => alerting({ rules: [byHand as never] })).toThrow(/op: received "greater_than", expected one of/);
    expect(() => alerting({ rules: [] }).addRule({ ...byHand, op: 'gt', severity: 'page' } as never)).toThrow(
      /severity: received "page"/,
    );
    const ok = alerting({ rules: [{ ...byHand, op: 'gt' } as never] });
    expect(ok.rules[0]).toMatchObject({ forMs: 0, cooldownMs: expect.any(Number) });
  });

  it('does not fire the cache rule without cache traffic', async () => {
    const alerts = alerting({ rules: defaultRules(), clock: new FakeClock() });
    expect(await alerts.evaluate(metrics({ clock: new FakeClock() }).snapshot())).toEqual([]);
    const stats = metrics({ clock: new FakeClock() });
    stats.recordCache(false);
    expect((await alerts.evaluate(stats.snapshot())).map((a) => a.name)).toEqual(['low_cache_hit_rate']);
  });

  it('treats a guard that throws as false, reported, so the other rules are still evaluated', async () => {
    const reported: unknown[] = [];
    const stop = onListenerError((error) => reported.push(error));
    try {
      const broken = new TypeError("Cannot read properties of undefined (reading 'hits')");
      const guarded = rule({
        ...{ name: 'guarded', metric: 'errorRate', op: 'gt', threshold: 0.1, severity: 'warning' },
        when: (s) => (s as { cache: { hits: number } }).cache.hits > 0,
      });
      const alerts = alerting({ rules: [guarded, highErrors()], clock: new FakeClock() });
      expect((await alerts.evaluate({ errorRate: 0.5 })).map((a) => a.name)).toEqual(['errors']);
      expect(reported).toEqual([broken]);
    } finally {
      stop();
    }
  });

  it('reads a metric whose getter throws as no value: the other rules fire and their handlers hear of it', async () => {
    const heard: string[] = [];
    const latency = rule({ name: 'slow', metric: 'latency.p99', op: 'gt', threshold: 100, severity: 'warning' });
    const alerts = alerting({
      rules: [highErrors(), latency],
      handlers: [(a) => void heard.push(a.name)],
      clock: new FakeClock(),
    });
    const snapshot = {
      errorRate: 0.5,
      get latency(): never {
        throw new Error('broken snapshot');
      },
    };
    expect((await alerts.evaluate(snapshot)).map((a) => a.name)).toEqual(['errors']);
    expect(heard).toEqual(['errors']);
  });

  it('refuses a hand-built rule without a metric or threshold', () => {
    const alerts = alerting({ clock: new FakeClock() });
    expect(() => alerts.addRule({ name: 'junk', op: 'gt' } as never)).toThrow(ConfigurationError);
    expect(() => alerts.addRule({ name: 'junk', op: 'gt', metric: 'errorRate' } as never)).toThrow(/rule/);
  });

  it('fires the default error-rate rules from a real collector', async () => {
    const clock = new FakeClock();
    const stats = metrics({ clock });
    for (let i = 0; i < 7; i++) stats.recordCall({ latencyMs: 10, ok: i >= 2 });
    const fired = await alerting({ clock }).evaluate(stats.snapshot());
    expect(fired.map((a) => [a.name, a.severity])).toEqual([
      ['high_error_rate', 'warning'],
      ['critical_error_rate', 'critical'],
    ]);
  });

  it('resolves after every handler settles, isolating a handler that throws or rejects', async () => {
    const seen: Alert[] = [];
    let release!: () => void;
    const slow = (a: Alert) => new Promise<void>((resolve) => (release = resolve)).then(() => void seen.push(a));
    const alerts = alerting({
      rules: [highErrors()],
      handlers: [
        () => {
          throw new Error('sync');
        },
        () => Promise.reject(new Error('async')),
        slow,
        (a) => void seen.push(a),
      ],
      clock: new FakeClock(),
    });
    let settled = false;
    const done = alerts.evaluate(errorRate(0.5)).then((a) => {
      settled = true;
      return a;
    });
    await new Promise((r) => setImmediate(r));
    expect(settled).toBe(false);
    expect(seen).toHaveLength(1);
    release();
    expect(await done).toHaveLength(1);
    expect(seen).toHaveLength(2);
    expect(alerts.stats).toMatchObject({ handlerCalls: 4, handlerFailures: 2, fired: 1 });
  });

  it('reports a failing handler’s error through onListenerError instead of dropping it', async () => {
    const reported: unknown[] = [];
    const stop = onListenerError((error, event) => reported.push(error, (event as Alert).name));
    try {
      const down = new Error('webhook down');
      const alerts = alerting({
        rules: [highErrors()],
        handlers: [() => Promise.reject(down)],
        clock: new FakeClock(),
      });
      await alerts.evaluate(errorRate(0.5));
      expect(reported).toEqual([down, 'errors']);
    } finally {
      stop();
    }
  });

  it('keeps at most maxHistory alerts, oldest first', async () => {
    const alerts = alerting({ rules: [highErrors()], maxHistory: 3, clock: new FakeClock() });
    for (const rate of [0.5, 0, 0.6, 0.01, 0.7]) await alerts.evaluate(errorRate(rate)); // F R F R F
    const history = alerts.history();
    expect(history.map((a) => a.status)).toEqual(['firing', 'resolved', 'firing']);
    expect(history.map((a) => a.value)).toEqual([0.6, 0.01, 0.7]);
    expect(alerts.stats).toMatchObject({ fired: 3, resolved: 2, evaluations: 5, active: 1 });
    const none = alerting({ rules: [highErrors()], maxHistory: 0, clock: new FakeClock() });
    await none.evaluate(errorRate(0.5));
    expect(none.history()).toEqual([]);
  });

  it('evaluates periodically with clock timers until stopped', async () => {
    const clock = new FakeClock();
    const stats = metrics({ clock });
    const handler = vi.fn();
    const alerts = alerting({ rules: [highErrors()], handlers: [handler], clock });
    alerts.start(stats, { intervalMs: 1_000 });
    await clock.advance(1_000);
    expect(alerts.stats.evaluations).toBe(1);
    stats.recordCall({ latencyMs: 1, ok: false });
    await clock.advance(1_000);
    expect(handler).toHaveBeenCalledWith(expect.objectContaining({ status: 'firing', at: 2_000 }));
    alerts.stop();
    await clock.advance(10_000);
    expect(alerts.stats.evaluations).toBe(2);
    expect(clock.pendingTimers).toBe(0);
  });

  it('keeps evaluating on schedule while a handler never settles', async () => {
    const clock = new FakeClock();
    const stats = metrics({ clock });
    const calls: string[] = [];
    const hung = (alert: Alert) => {
      calls.push(alert.status);
      return new Promise<void>(() => {});
    };
    const alerts = alerting({ rules: [highErrors()], handlers: [hung], clock });
    alerts.start(stats, { intervalMs: 1_000 });
    stats.recordCall({ latencyMs: 1, ok: false });
    await clock.advance(1_000); // fires; the handler hangs
    expect(calls).toEqual(['firing']);
    await clock.advance(3_000);
    expect(alerts.stats.evaluations).toBe(4);
    alerts.stop();
    await clock.advance(10_000);
    expect(alerts.stats.evaluations).toBe(4);
  });

  it('counts a snapshot that throws and keeps evaluating', async () => {
    const clock = new FakeClock();
    const alerts = alerting({ rules: [highErrors()], clock });
    let calls = 0;
    const snapshot = () => {
      if (calls++ === 0) throw new Error('snapshot failed');
      return errorRate(0);
    };
    alerts.start({ snapshot }, { intervalMs: 500 });
    await clock.advance(1_000);
    expect(alerts.stats).toMatchObject({ evaluationErrors: 1, evaluations: 1 });
    alerts.stop();
  });

  it('replaces the schedule when started again', async () => {
    const clock = new FakeClock();
    const alerts = alerting({ rules: [highErrors()], clock });
    alerts.start({ snapshot: () => errorRate(0) }, { intervalMs: 1_000 });
    alerts.start({ snapshot: () => errorRate(0) }, { intervalMs: 5_000 });
    await clock.advance(5_000);
    expect(alerts.stats.evaluations).toBe(1);
    expect(clock.pendingTimers).toBe(1);
    alerts.stop();
    expect(() => alerts.start({ snapshot: () => ({}) }, { intervalMs: 0 })).toThrow(ConfigurationError);
  });
});
