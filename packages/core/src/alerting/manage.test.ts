import { describe, expect, it } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
import { ConfigurationError } from '../errors/errors.js';
import { alerting } from './alerting.js';
import { ALERTING_DEFAULTS, type Alert } from './options.js';
import { rule } from './rule.js';

const errors = (threshold = 0.1, extra: object = {}) =>
  rule({ name: 'errors', metric: 'errorRate', op: 'gt', threshold, severity: 'critical', ...extra });
const slow = rule({ name: 'slow', metric: 'latency.p95', op: 'gt', threshold: 100, severity: 'warning' });
const snap = (errorRate: number, p95 = 0) => ({ errorRate, latency: { p95 } });

describe('alerting: live management', () => {
  it('pins its bounds', () => {
    expect(ALERTING_DEFAULTS).toEqual({ maxHistory: 100, intervalMs: 60_000, maxRules: 1_000, maxHandlers: 100 });
  });

  it('adds a rule that takes part from the next evaluation', async () => {
    const alerts = alerting({ rules: [], clock: new FakeClock() });
    expect(await alerts.evaluate(snap(0.5))).toEqual([]);
    alerts.addRule(errors());
    expect((await alerts.evaluate(snap(0.5))).map((a) => a.name)).toEqual(['errors']);
    expect(alerts.rules.map((r) => r.name)).toEqual(['errors']);
  });

  it('rejects a rule that is not one, a name already taken, and a rule past maxRules, naming the rule', () => {
    const alerts = alerting({ rules: [errors()], clock: new FakeClock() });
    expect(() => alerts.addRule({ name: 'x' } as never)).toThrow(ConfigurationError);
    expect(() => alerts.addRule(errors(0.2))).toThrow(/rule.*a name not taken yet/);
    const full = alerting({ rules: [], clock: new FakeClock() });
    for (let i = 0; i < ALERTING_DEFAULTS.maxRules; i++) full.addRule(errors(0.1, { name: `r${i}` }));
    expect(() => full.addRule(slow)).toThrow(/at most 1000 rules/);
  });

  it('removes a rule, resolving it at the next evaluation if it was firing', async () => {
    const seen: Alert[] = [];
    const alerts = alerting({ rules: [errors(), slow], handlers: [(a) => void seen.push(a)], clock: new FakeClock() });
    await alerts.evaluate(snap(0.5, 500));
    expect(alerts.removeRule('errors')).toBe(true);
    expect(alerts.removeRule('errors')).toBe(false);
    expect(alerts.active().map((a) => a.name)).toEqual(['slow']);
    await alerts.evaluate(snap(0.5, 500));
    expect(seen.map((a) => [a.name, a.status])).toEqual([
      ['errors', 'firing'],
      ['slow', 'firing'],
      ['errors', 'resolved'],
    ]);
    // The name is free again; the new rule starts from scratch.
    alerts.addRule(errors(0.4));
    expect((await alerts.evaluate(snap(0.5, 500))).map((a) => a.name)).toEqual(['errors']);
  });

  it('adds a handler that gets only the severities it asks for, until disposed', async () => {
    const clock = new FakeClock();
    const alerts = alerting({ rules: [errors(), slow], clock });
    const pager: string[] = [];
    const chat: string[] = [];
    const stopPager = alerts.addHandler((a) => void pager.push(`${a.name} ${a.status}`), { severities: ['critical'] });
    alerts.addHandler((a) => void chat.push(`${a.name} ${a.status}`), { severities: ['warning', 'info'] });
    await alerts.evaluate(snap(0.5, 500));
    await alerts.evaluate(snap(0, 0));
    stopPager();
    stopPager();
    await alerts.evaluate(snap(0.5, 0));
    expect(pager).toEqual(['errors firing', 'errors resolved']);
    expect(chat).toEqual(['slow firing', 'slow resolved']);
    expect(alerts.stats.handlerCalls).toBe(4);
  });

  it('rejects a bad handler or filter, naming each, and more than maxHandlers handlers', () => {
    const alerts = alerting({ clock: new FakeClock() });
    const bad = () => alerts.addHandler('x' as never, { severities: ['loud'], pages: true } as never);
    expect(bad).toThrow(ConfigurationError);
    for (const option of ['handler', 'severities', 'pages']) expect(bad).toThrow(option);
    expect(() => alerts.addHandler(() => {}, { severities: [] })).toThrow(/severities/);
    for (let i = 0; i < ALERTING_DEFAULTS.maxHandlers; i++) alerts.addHandler(() => {});
    expect(() => alerts.addHandler(() => {})).toThrow(/at most 100 handlers/);
  });

  it('carries a rule description on its alerts', async () => {
    const described = errors(0.1, { description: 'More than 10 % of calls fail: check the provider status page.' });
    const [alert] = await alerting({ rules: [described], clock: new FakeClock() }).evaluate(snap(0.5));
    expect(alert?.description).toBe('More than 10 % of calls fail: check the provider status page.');
    expect(() => errors(0.1, { description: '' })).toThrow(/description/);
    const [plain] = await alerting({ rules: [errors()], clock: new FakeClock() }).evaluate(snap(0.5));
    expect(plain).not.toHaveProperty('description');
  });

  it('filters the history by severity, status and time, keeping the most recent limit, oldest first', async () => {
    const clock = new FakeClock();
    const alerts = alerting({ rules: [errors(), slow], clock });
    await alerts.evaluate(snap(0.5, 500)); // t=0: errors, slow fire
    await clock.advance(1_000);
    await alerts.evaluate(snap(0, 0)); // t=1000: both resolve
    await clock.advance(1_000);
    await alerts.evaluate(snap(0.5, 0)); // t=2000: errors fires
    const of = (filter: Parameters<typeof alerts.history>[0]) =>
      alerts.history(filter).map((a) => `${a.name} ${a.status} ${a.at}`);
    expect(of({ severity: 'critical' })).toEqual(['errors firing 0', 'errors resolved 1000', 'errors firing 2000']);
    expect(of({ status: 'resolved' })).toEqual(['errors resolved 1000', 'slow resolved 1000']);
    expect(of({ since: 1_000, status: 'firing' })).toEqual(['errors firing 2000']);
    expect(of({ limit: 2 })).toEqual(['slow resolved 1000', 'errors firing 2000']);
    expect(of({ limit: 0 })).toEqual([]);
    expect(alerts.history()).toHaveLength(5);
  });

  it('rejects a bad history filter, naming each field', () => {
    const alerts = alerting({ clock: new FakeClock() });
    const bad = () =>
      alerts.history({ severity: 'loud', status: 'open', since: Number.NaN, limit: -1, from: 0 } as never);
    expect(bad).toThrow(ConfigurationError);
    for (const option of ['severity', 'status', 'since', 'limit', 'from']) expect(bad).toThrow(option);
  });

  it('empties the history on clearHistory, keeping rules and what fires', async () => {
    const alerts = alerting({ rules: [errors()], maxHistory: 3, clock: new FakeClock() });
    await alerts.evaluate(snap(0.5));
    await alerts.evaluate(snap(0));
    alerts.clearHistory();
    expect(alerts.history()).toEqual([]);
    for (const rate of [0.5, 0, 0.5, 0]) await alerts.evaluate(snap(rate));
    expect(alerts.history().map((a) => a.status)).toEqual(['resolved', 'firing', 'resolved']);
  });
});
