import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
import { steppingClock } from '../testing/stepping-clock.js';
import { alerting } from './alerting.js';
import type { Alert } from './options.js';
import { rule } from './rule.js';

const ruleArb = fc.record({ forMs: fc.integer({ min: 0, max: 300 }), cooldownMs: fc.integer({ min: 0, max: 300 }) });
const evalArb = (rules: number) =>
  fc.record({
    advanceMs: fc.integer({ min: 0, max: 200 }),
    stepMs: fc.oneof(
      { weight: 5, arbitrary: fc.constant(0) },
      { weight: 1, arbitrary: fc.integer({ min: -400, max: 400 }) },
      { weight: 1, arbitrary: fc.constantFrom(-3_600_000, 3_600_000) },
    ),
    holds: fc.array(fc.boolean(), { minLength: rules, maxLength: rules }),
    remove: fc.option(fc.nat({ max: rules - 1 }), { nil: undefined, freq: 8 }),
  });

interface RuleModel {
  present: boolean;
  since: number | undefined;
  firing: boolean;
  lastFiredAt: number | undefined;
}

describe('alerting (properties)', () => {
  it('fires when a condition held forMs, resolves when it stops, honours cooldowns across clock steps, and notifies in order with history bounded', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc
          .array(ruleArb, { minLength: 1, maxLength: 3 })
          .chain((rules) =>
            fc.tuple(
              fc.constant(rules),
              fc.integer({ min: 0, max: 6 }),
              fc.array(evalArb(rules.length), { minLength: 1, maxLength: 25 }),
            ),
          ),
        async ([specs, maxHistory, evaluations]) => {
          const { clock, advance, step } = steppingClock();
          const notified: Alert[] = [];
          const alerts = alerting({
            clock,
            maxHistory,
            rules: specs.map((spec, i) =>
              rule({ name: `r${i}`, metric: `m${i}`, op: 'gt', threshold: 0, severity: 'warning', ...spec }),
            ),
            handlers: [
              (alert) => {
                notified.push(alert);
              },
            ],
          });
          const model: RuleModel[] = specs.map(() => ({
            present: true,
            since: undefined,
            firing: false,
            lastFiredAt: undefined,
          }));
          const all: { name: string; status: string; at: number }[] = [];
          let fired = 0;
          let resolved = 0;
          let suppressed = 0;
          let retired: number[] = [];
          for (const e of evaluations) {
            await advance(e.advanceMs);
            step(e.stepMs);
            const at = clock.now();
            const expected: { name: string; status: string; at: number }[] = retired.map((i) => ({
              name: `r${i}`,
              status: 'resolved',
              at,
            }));
            resolved += retired.length;
            retired = [];
            specs.forEach((spec, i) => {
              const m = model[i]!;
              if (!m.present) return;
              if (e.holds[i]) {
                m.since = Math.min(m.since ?? at, at);
                if (m.firing || at - m.since < spec.forMs) return;
                if (m.lastFiredAt !== undefined && at >= m.lastFiredAt && at - m.lastFiredAt < spec.cooldownMs) {
                  suppressed++;
                  return;
                }
                m.firing = true;
                m.lastFiredAt = at;
                fired++;
                expected.push({ name: `r${i}`, status: 'firing', at });
              } else {
                m.since = undefined;
                if (!m.firing) return;
                m.firing = false;
                resolved++;
                expected.push({ name: `r${i}`, status: 'resolved', at });
              }
            });
            const before = notified.length;
            const result = await alerts.evaluate(Object.fromEntries(e.holds.map((h, i) => [`m${i}`, h ? 1 : 0])));
            const seen = notified.slice(before).map(({ name, status, at }) => ({ name, status, at }));
            expect(seen).toEqual(expected);
            expect(result.map((a) => a.name)).toEqual(expected.filter((a) => a.status === 'firing').map((a) => a.name));
            all.push(...expected);
            if (e.remove !== undefined && model[e.remove]!.present) {
              expect(alerts.removeRule(`r${e.remove}`)).toBe(true);
              if (model[e.remove]!.firing) retired.push(e.remove);
              model[e.remove]!.present = false;
            }
            expect(alerts.active().map((a) => a.name)).toEqual(
              model.flatMap((m, i) => (m.present && m.firing ? [`r${i}`] : [])),
            );
          }
          expect(alerts.history().map(({ name, status, at }) => ({ name, status, at }))).toEqual(
            maxHistory === 0 ? [] : all.slice(-maxHistory),
          );
          expect(alerts.stats).toMatchObject({ fired, resolved, suppressed, evaluations: evaluations.length });
        },
      ),
      { numRuns: 300 },
    );
  });

  it('stop() during an evaluation whose handler hangs leaves no timer (fast-check: intervalMs 1, advances [1, 0], hangs)', async () => {
    const clock = new FakeClock();
    const alerts = alerting({
      clock,
      rules: [rule({ name: 'r', metric: 'm', op: 'gt', threshold: 0, severity: 'warning' })],
      handlers: [() => new Promise<void>(() => {})],
    });
    alerts.start({ snapshot: () => ({ m: 1 }) as never }, { intervalMs: 1 });
    await clock.advance(1);
    alerts.stop();
    expect(clock.pendingTimers).toBe(0);
  });

  it('start(): evaluates every intervalMs after the last settled, a hung handler holds back nothing, and stop() leaves no timer', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 500 }),
        fc.array(fc.integer({ min: 0, max: 700 }), { minLength: 1, maxLength: 10 }),
        fc.boolean(),
        async (intervalMs, advances, hangs) => {
          const clock = new FakeClock();
          let snapshots = 0;
          let flip = false;
          const alerts = alerting({
            clock,
            rules: [rule({ name: 'r', metric: 'm', op: 'gt', threshold: 0, severity: 'warning' })],
            handlers: [() => (hangs ? new Promise<void>(() => {}) : undefined)],
          });
          alerts.start(
            {
              snapshot: () => {
                snapshots++;
                flip = !flip;
                return { m: flip ? 1 : 0 } as never;
              },
            },
            { intervalMs },
          );
          let elapsed = 0;
          for (const ms of advances) {
            await clock.advance(ms);
            elapsed += ms;
            // One every intervalMs, the first intervalMs after start().
            expect(snapshots).toBe(Math.floor(elapsed / intervalMs));
          }
          alerts.stop();
          expect(clock.pendingTimers).toBe(0);
        },
      ),
      { numRuns: 100 },
    );
  });
});
