import { type Clock, systemClock, type TimerHandle } from '../clock/clock.js';
import { OptionsValidator } from '../errors/validate.js';
import { reportListenerError } from '../events/emitter.js';
import {
  ALERTING_DEFAULTS,
  ALERTING_START_OPTION_NAMES,
  type Alert,
  type AlertHandler,
  type AlertingOptions,
  type AlertingStartOptions,
  type Rule,
  validateAlertingOptions,
} from './options.js';
import { defaultRules, holds, readMetric } from './rule.js';

export interface AlertingStats {
  /** Calls of `evaluate`, periodic ones included. */
  evaluations: number;
  /** Firing alerts sent. */
  fired: number;
  /** Resolved notifications sent. */
  resolved: number;
  /** Evaluations at which a rule's condition was due to fire but its cooldown held it back. */
  suppressed: number;
  /** Handler invocations. */
  handlerCalls: number;
  /** Handler invocations that threw or rejected. */
  handlerFailures: number;
  /** Periodic evaluations whose snapshot could not be taken. */
  evaluationErrors: number;
  /** Rules firing now. */
  active: number;
}

interface RuleState {
  /** Clock time of the first evaluation in the current run of evaluations where the condition held. */
  since: number | undefined;
  firing: Alert | undefined;
  lastFiredAt: number | undefined;
}

/** Anything with a `snapshot()`: a metrics collector, typically. */
export interface AlertSnapshotSource {
  snapshot(): object;
}

/**
 * Evaluates rules against metric snapshots, tracks which rules fire, and notifies handlers.
 *
 * Memory: one small state per rule and at most `maxHistory` alerts.
 */
export class Alerting {
  readonly #rules: readonly Rule[];
  readonly #handlers: readonly AlertHandler[];
  readonly #clock: Clock;
  readonly #maxHistory: number;
  readonly #state: Map<string, RuleState>;
  readonly #history: Alert[] = [];
  #historyStart = 0;
  readonly #stats = {
    evaluations: 0,
    fired: 0,
    resolved: 0,
    suppressed: 0,
    handlerCalls: 0,
    handlerFailures: 0,
    evaluationErrors: 0,
  };
  #timer: TimerHandle | undefined;
  #generation = 0;

  constructor(options: AlertingOptions = {}) {
    validateAlertingOptions(options);
    this.#rules = options.rules ? [...options.rules] : defaultRules();
    this.#handlers = options.handlers ?? [];
    this.#clock = options.clock ?? systemClock;
    this.#maxHistory = options.maxHistory ?? ALERTING_DEFAULTS.maxHistory;
    this.#state = new Map(
      this.#rules.map((r) => [r.name, { since: undefined, firing: undefined, lastFiredAt: undefined }]),
    );
  }

  /**
   * Checks every rule against `snapshot` and resolves, once every handler has settled, with
   * the alerts that fired in this evaluation (`status: 'firing'`). Resolved notifications —
   * for firing rules whose condition no longer holds — go to the handlers and the history,
   * not into the result. Never rejects because of a handler.
   */
  async evaluate(snapshot: object): Promise<Alert[]> {
    this.#stats.evaluations++;
    const at = this.#clock.now();
    /** Every notification of this evaluation, firing and resolved, in rule order. */
    const alerts: Alert[] = [];
    const fired: Alert[] = [];
    for (const r of this.#rules) {
      const state = this.#state.get(r.name)!;
      const value = readMetric(snapshot, r.metric);
      const base = { name: r.name, metric: r.metric, severity: r.severity, value, threshold: r.threshold, at };
      if ((r.when === undefined || r.when(snapshot)) && holds(value, r.op, r.threshold)) {
        state.since ??= at;
        if (state.firing || at - state.since < r.forMs) continue;
        if (state.lastFiredAt !== undefined && at - state.lastFiredAt < r.cooldownMs) {
          this.#stats.suppressed++;
          continue;
        }
        const alert: Alert = Object.freeze({ ...base, status: 'firing' });
        state.firing = alert;
        state.lastFiredAt = at;
        this.#stats.fired++;
        alerts.push(alert);
        fired.push(alert);
      } else {
        state.since = undefined;
        if (!state.firing) continue;
        state.firing = undefined;
        this.#stats.resolved++;
        alerts.push(Object.freeze({ ...base, status: 'resolved' }));
      }
    }
    for (const alert of alerts) this.#remember(alert);
    if (alerts.length > 0 && this.#handlers.length > 0) await this.#notify(alerts);
    return fired;
  }

  /** The last `maxHistory` alerts, oldest first. */
  history(): Alert[] {
    return [...this.#history.slice(this.#historyStart), ...this.#history.slice(0, this.#historyStart)];
  }

  /** The firing alert of every rule that fires now. */
  active(): Alert[] {
    return [...this.#state.values()].flatMap((s) => (s.firing ? [s.firing] : []));
  }

  get stats(): AlertingStats {
    return { ...this.#stats, active: this.active().length };
  }

  /**
   * Evaluates `source.snapshot()` every `intervalMs` (measured from when the previous
   * evaluation settled) until `stop()`. Starting again replaces the previous schedule.
   */
  start(source: AlertSnapshotSource, options: AlertingStartOptions = {}): void {
    const v = new OptionsValidator('alerting.start');
    v.check(typeof source?.snapshot === 'function', 'source', source, 'an object with snapshot()');
    v.number('intervalMs', v.known(options, ALERTING_START_OPTION_NAMES).intervalMs, { gt: 0 });
    v.done();
    this.stop();
    const intervalMs = options.intervalMs ?? ALERTING_DEFAULTS.intervalMs;
    const generation = this.#generation;
    const tick = async () => {
      try {
        await this.evaluate(source.snapshot());
      } catch {
        this.#stats.evaluationErrors++;
      }
      if (generation === this.#generation) this.#timer = this.#clock.setTimeout(tick, intervalMs);
    };
    this.#timer = this.#clock.setTimeout(tick, intervalMs);
  }

  /** Stops periodic evaluation. */
  stop(): void {
    this.#generation++;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #remember(alert: Alert): void {
    if (this.#maxHistory === 0) return;
    if (this.#history.length < this.#maxHistory) {
      this.#history.push(alert);
      return;
    }
    this.#history[this.#historyStart] = alert;
    this.#historyStart = (this.#historyStart + 1) % this.#maxHistory;
  }

  async #notify(alerts: readonly Alert[]): Promise<void> {
    const calls: Promise<unknown>[] = [];
    for (const alert of alerts) {
      for (const handler of this.#handlers) {
        this.#stats.handlerCalls++;
        calls.push(
          // A handler that throws synchronously is caught here like one that rejects.
          new Promise<void>((resolve) => resolve(handler(alert))).catch((error: unknown) => {
            this.#stats.handlerFailures++;
            reportListenerError(handler, error, alert);
          }),
        );
      }
    }
    await Promise.all(calls);
  }
}

/**
 * Alert rules over metric snapshots with firing and resolved notifications.
 *
 * @example
 * const alerts = alerting({ rules: defaultRules(), handlers: [logHandler(logger)] });
 * alerts.start(stats, { intervalMs: 30_000 });
 */
export function alerting(options: AlertingOptions = {}): Alerting {
  return new Alerting(options);
}
