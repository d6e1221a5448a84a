import { type Clock, systemClock, type TimerHandle } from '../clock/clock.js';
import { OptionsValidator } from '../errors/validate.js';
import { type Disposer, reportListenerError } from '../events/emitter.js';
import { SNAPSHOT } from '../metrics/options.js';
import {
  ALERT_HANDLER_OPTION_NAMES,
  ALERT_HISTORY_FILTER_NAMES,
  ALERT_SEVERITIES,
  ALERT_STATUSES,
  ALERTING_DEFAULTS,
  ALERTING_START_OPTION_NAMES,
  type Alert,
  type AlertHandler,
  type AlertHandlerOptions,
  type AlertHistoryFilter,
  type AlertingOptions,
  type AlertingStartOptions,
  type AlertSeverity,
  isRule,
  type Rule,
  type RuleOptions,
  validateAlertingOptions,
  validateRule,
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
  readonly rule: Rule;
  /** Clock time of the first evaluation in the current run of evaluations where the condition held. */
  since: number | undefined;
  firing: Alert | undefined;
  lastFiredAt: number | undefined;
}

/** A handler and the severities it is told of (`undefined`: every one). */
interface Registration {
  readonly handler: AlertHandler;
  readonly severities: ReadonlySet<AlertSeverity> | undefined;
}

const stateOf = (rule: Rule): RuleState => ({ rule, since: undefined, firing: undefined, lastFiredAt: undefined });

/** Whether a rule's guard lets it be considered; a guard that throws is reported and counts as false, so it cannot stop the other rules. */
function considered(r: Rule, snapshot: object): boolean {
  try {
    return r.when === undefined || r.when(snapshot) === true;
  } catch (error) {
    reportListenerError(r.when!, error, snapshot);
    return false;
  }
}

/** Anything with a `snapshot()`: a metrics collector, typically. */
export interface AlertSnapshotSource {
  snapshot(): object | PromiseLike<object>;
}

/**
 * Evaluates rules against metric snapshots and notifies handlers. Memory: at most 1 000
 * rules, 100 handlers and `maxHistory` alerts.
 */
export class Alerting {
  /** Every rule by name, in the order added: the order of evaluation. */
  readonly #rules: Map<string, RuleState>;
  /** Replaced, never changed in place, so a notification in flight keeps the list it started with. */
  #handlers: readonly Registration[];
  /** Firing alerts of removed rules, resolved at the next evaluation. */
  #retired: Alert[] = [];
  readonly #clock: Clock;
  readonly #maxHistory: number;
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
    // A rule written by hand, not by rule(), is checked as rule() checks one.
    this.#rules = new Map(
      (options.rules ?? defaultRules()).map((r) => [r.name, stateOf(validateRule(r as RuleOptions))]),
    );
    this.#handlers = (options.handlers ?? []).map((handler) => ({ handler, severities: undefined }));
    this.#clock = options.clock ?? systemClock;
    this.#maxHistory = options.maxHistory ?? ALERTING_DEFAULTS.maxHistory;
  }

  /** The rules, in the order they are evaluated. */
  get rules(): Rule[] {
    return [...this.#rules.values()].map((s) => s.rule);
  }

  /** Adds a `rule()`, evaluated from the next evaluation on; at most 1 000 rules. */
  addRule(rule: Rule): this {
    const v = new OptionsValidator('alerting.addRule');
    const { maxRules } = ALERTING_DEFAULTS;
    v.check(isRule(rule), 'rule', rule, 'a rule(...) value');
    if (isRule(rule)) v.check(!this.#rules.has(rule.name), 'rule.name', rule.name, 'a name not taken yet');
    v.check(this.#rules.size < maxRules, 'rule', `rule ${this.#rules.size + 1}`, `at most ${maxRules} rules`);
    v.done();
    this.#rules.set(rule.name, stateOf(validateRule(rule as RuleOptions)));
    return this;
  }

  /** Removes the rule named `name`; a firing one is resolved at the next evaluation. */
  removeRule(name: string): boolean {
    const state = this.#rules.get(name);
    if (state === undefined) return false;
    this.#rules.delete(name);
    if (state.firing) this.#retired.push(state.firing);
    return true;
  }

  /**
   * Adds a handler, told of every alert from now on (or of `severities`); returns its
   * disposer. At most 100 handlers.
   * @example alerts.addHandler(pageOnCall, { severities: ['critical'] });
   */
  addHandler(handler: AlertHandler, options: AlertHandlerOptions = {}): Disposer {
    const v = new OptionsValidator('alerting.addHandler');
    const { maxHandlers } = ALERTING_DEFAULTS;
    v.required('handler', handler).function('handler', handler);
    const severities = v.known(options, ALERT_HANDLER_OPTION_NAMES).severities;
    v.check(
      severities === undefined ||
        (Array.isArray(severities) && severities.length > 0 && severities.every((s) => ALERT_SEVERITIES.includes(s))),
      'severities',
      severities,
      `a non-empty array of ${ALERT_SEVERITIES.map((s) => `'${s}'`).join(', ')}`,
    );
    v.check(
      this.#handlers.length < maxHandlers,
      'handler',
      `handler ${this.#handlers.length + 1}`,
      `at most ${maxHandlers} handlers`,
    );
    v.done();
    const registration: Registration = { handler, severities: severities && new Set(severities) };
    this.#handlers = [...this.#handlers, registration];
    return () => {
      this.#handlers = this.#handlers.filter((r) => r !== registration);
    };
  }

  /**
   * Checks every rule against `snapshot` (`collector.snapshot()`); resolves, once every handler
   * has settled, with the alerts that fired (resolved ones go to the handlers and history only).
   */
  async evaluate(snapshot: object): Promise<Alert[]> {
    const ok =
      typeof snapshot === 'object' && typeof (snapshot as { snapshot?: unknown } | null)?.snapshot !== 'function';
    new OptionsValidator('alerting.evaluate').check(ok && snapshot !== null, 'snapshot', snapshot, SNAPSHOT).done();
    this.#stats.evaluations++;
    const at = this.#clock.now();
    /** Every notification of this evaluation, firing and resolved, in rule order (removed rules first). */
    const alerts: Alert[] = this.#retired.map((firing) => Object.freeze({ ...firing, status: 'resolved', at }));
    this.#stats.resolved += alerts.length;
    this.#retired = [];
    const fired: Alert[] = [];
    for (const state of this.#rules.values()) {
      const r = state.rule;
      const value = readMetric(snapshot, r.metric);
      const base = { name: r.name, metric: r.metric, severity: r.severity, value, threshold: r.threshold, at };
      if (r.description !== undefined) Object.assign(base, { description: r.description });
      if (considered(r, snapshot) && holds(value, r.op, r.threshold)) {
        // A clock that stepped back restarts forMs and ends a cooldown, rather than holding them for the step.
        state.since = Math.min(state.since ?? at, at);
        if (state.firing || at - state.since < r.forMs) continue;
        if (state.lastFiredAt !== undefined && at >= state.lastFiredAt && at - state.lastFiredAt < r.cooldownMs) {
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

  /** The last `maxHistory` alerts, oldest first, filtered by `severity`, `status`, `since` and `limit`. */
  history(filter: AlertHistoryFilter = {}): Alert[] {
    const v = new OptionsValidator('alerting.history');
    const { severity, status, since, limit } = v.known(filter, ALERT_HISTORY_FILTER_NAMES);
    v.oneOf('severity', severity, ALERT_SEVERITIES);
    v.oneOf('status', status, ALERT_STATUSES);
    v.number('since', since);
    v.integer('limit', limit, { min: 0 });
    v.done();
    const all = [...this.#history.slice(this.#historyStart), ...this.#history.slice(0, this.#historyStart)];
    const kept = all.filter(
      (a) =>
        (severity === undefined || a.severity === severity) &&
        (status === undefined || a.status === status) &&
        (since === undefined || a.at >= since),
    );
    return limit === undefined ? kept : kept.slice(kept.length - Math.min(limit, kept.length));
  }

  /** Forgets every alert in the history; rules and what fires now are kept. */
  clearHistory(): void {
    this.#history.length = 0;
    this.#historyStart = 0;
  }

  /** The firing alert of every rule that fires now. */
  active(): Alert[] {
    return [...this.#rules.values()].flatMap((s) => (s.firing ? [s.firing] : []));
  }

  get stats(): AlertingStats {
    return { ...this.#stats, active: this.active().length };
  }

  /**
   * Evaluates `source.snapshot()` every `intervalMs` until `stop()`; a handler that never
   * settles does not stop the schedule. Starting again replaces it.
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
      let next = false;
      // The next evaluation: `intervalMs` after this one settles, or after it started if it has not.
      const again = (ms: number) => {
        if (next || generation !== this.#generation) return;
        next = true;
        this.#timer = this.#clock.setTimeout(tick, ms);
      };
      // Held as the schedule's timer while this one runs, so stop() clears it too.
      const late = (this.#timer = this.#clock.setTimeout(() => again(0), intervalMs));
      try {
        await this.evaluate(await source.snapshot()); // an async source too
      } catch {
        this.#stats.evaluationErrors++;
      }
      this.#clock.clearTimeout(late);
      again(intervalMs);
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
    const handlers = this.#handlers;
    for (const alert of alerts) {
      for (const { handler, severities } of handlers) {
        if (severities !== undefined && !severities.has(alert.severity)) continue;
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
