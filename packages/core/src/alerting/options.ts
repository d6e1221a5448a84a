import type { Clock } from '../clock/clock.js';
import { type OptionNames, OptionsValidator } from '../errors/validate.js';
import type { RetryOptions } from '../retry/options.js';

/** Comparison of a metric with its threshold: `metric <op> threshold`. */
export type AlertOp = 'gt' | 'lt' | 'gte' | 'lte' | 'eq';
export type AlertSeverity = 'info' | 'warning' | 'critical';

export const ALERT_OPS: readonly AlertOp[] = ['gt', 'lt', 'gte', 'lte', 'eq'];
export const ALERT_SEVERITIES: readonly AlertSeverity[] = ['info', 'warning', 'critical'];

export interface RuleOptions {
  /** Unique name of the rule; alerts carry it. */
  name: string;
  /** A dot path into the snapshot, such as `'errorRate'`, `'latency.p95'`, `'cache.hitRate'`. */
  metric: string;
  op: AlertOp;
  threshold: number;
  severity: AlertSeverity;
  /** The condition must hold this long (from the first evaluation that saw it) before the rule fires. @default 0 */
  forMs?: number;
  /** After firing, the rule does not fire again for this long, even if it resolved in between. @default 0 */
  cooldownMs?: number;
  /** A guard: the rule is only considered when this returns true (e.g. only with cache traffic). */
  when?: (snapshot: object) => boolean;
  /** What the alert means and what to do, for the person who receives it; carried on its alerts. */
  description?: string;
}

/** A validated rule, as built by `rule()`. */
export interface Rule {
  readonly name: string;
  readonly metric: string;
  readonly op: AlertOp;
  readonly threshold: number;
  readonly severity: AlertSeverity;
  readonly forMs: number;
  readonly cooldownMs: number;
  readonly when: ((snapshot: object) => boolean) | undefined;
  readonly description: string | undefined;
}

export const RULE_DEFAULTS = { forMs: 0, cooldownMs: 0 } as const;

/** Every option `rule` takes; any other name is rejected. */
export const RULE_OPTION_NAMES = {
  name: true,
  metric: true,
  op: true,
  threshold: true,
  severity: true,
  forMs: true,
  cooldownMs: true,
  when: true,
  description: true,
} as const satisfies OptionNames<RuleOptions>;

export function validateRule(options: RuleOptions): Rule {
  const v = new OptionsValidator('rule');
  const o = v.known(options, RULE_OPTION_NAMES);
  v.required('name', o.name).string('name', o.name);
  v.required('metric', o.metric).check(
    o.metric === undefined ||
      (typeof o.metric === 'string' && /^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*$/.test(o.metric)),
    'metric',
    o.metric,
    "a dot path such as 'latency.p95'",
  );
  v.required('op', o.op).oneOf('op', o.op, ALERT_OPS);
  v.required('threshold', o.threshold).number('threshold', o.threshold);
  v.required('severity', o.severity).oneOf('severity', o.severity, ALERT_SEVERITIES);
  v.number('forMs', o.forMs, { min: 0 });
  v.number('cooldownMs', o.cooldownMs, { min: 0 });
  v.predicate('when', o.when);
  v.string('description', o.description);
  v.done();
  return Object.freeze({
    name: options.name,
    metric: options.metric,
    op: options.op,
    threshold: options.threshold,
    severity: options.severity,
    forMs: options.forMs ?? RULE_DEFAULTS.forMs,
    cooldownMs: options.cooldownMs ?? RULE_DEFAULTS.cooldownMs,
    when: options.when,
    description: options.description,
  });
}

/** Whether `value` is a rule built by `rule()` (or shaped like one). */
export const isRule = (value: unknown): value is Rule =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as Rule).name === 'string' &&
  typeof (value as Rule).metric === 'string' &&
  typeof (value as Rule).op === 'string' &&
  typeof (value as Rule).threshold === 'number';

/** A notification that a rule started or stopped holding. */
export interface Alert {
  readonly name: string;
  readonly metric: string;
  readonly severity: AlertSeverity;
  /** The metric's value at this evaluation. */
  readonly value: number;
  readonly threshold: number;
  readonly status: 'firing' | 'resolved';
  /** Clock time of the evaluation. */
  readonly at: number;
  /** The rule's `description`, when it has one. */
  readonly description?: string;
}

/** Receives every alert; a throwing or rejecting handler is counted and never stops the others. */
export type AlertHandler = (alert: Alert) => void | Promise<void>;

export interface AlertingOptions {
  /** At most `ALERTING_DEFAULTS.maxRules` (1 000), with distinct names. @default defaultRules() */
  rules?: readonly Rule[];
  /** Handlers of every alert; at most `ALERTING_DEFAULTS.maxHandlers` (100) with those added later. @default [] */
  handlers?: readonly AlertHandler[];
  /** Alerts kept by `history()`; the oldest is dropped first. @default 100 */
  maxHistory?: number;
  clock?: Clock;
}

export const ALERTING_DEFAULTS = { maxHistory: 100, intervalMs: 60_000, maxRules: 1_000, maxHandlers: 100 } as const;

/** Every option `alerting` takes; any other name is rejected. */
export const ALERTING_OPTION_NAMES = {
  rules: true,
  handlers: true,
  maxHistory: true,
  clock: true,
} as const satisfies OptionNames<AlertingOptions>;

/** Every option of `alerting.start(source, options)`. */
export const ALERTING_START_OPTION_NAMES = { intervalMs: true } as const satisfies OptionNames<AlertingStartOptions>;

/** Options of `alerting.start`. */
export interface AlertingStartOptions {
  /** Time between the end of one evaluation and the start of the next, in ms. @default 60_000 */
  intervalMs?: number;
}

export function validateAlertingOptions(options: AlertingOptions): void {
  const v = new OptionsValidator('alerting');
  const o = v.known(options, ALERTING_OPTION_NAMES);
  const { maxRules, maxHandlers } = ALERTING_DEFAULTS;
  const rules = Array.isArray(o.rules) ? o.rules : undefined;
  v.check(o.rules === undefined || rules?.every(isRule) === true, 'rules', o.rules, 'an array of rule(...) values');
  const names = (rules ?? []).map((r) => r?.name);
  v.check(new Set(names).size === names.length, 'rules', names, 'rules with distinct names');
  v.check(names.length <= maxRules, 'rules', `${names.length} rules`, `at most ${maxRules} rules`);
  v.check(
    o.handlers === undefined ||
      (Array.isArray(o.handlers) &&
        o.handlers.length <= maxHandlers &&
        o.handlers.every((h) => typeof h === 'function')),
    'handlers',
    o.handlers,
    `an array of at most ${maxHandlers} functions`,
  );
  v.integer('maxHistory', o.maxHistory, { min: 0, max: 100_000 });
  v.clock('clock', o.clock);
  v.done();
}

/** Options of `alerting.addHandler`. */
export interface AlertHandlerOptions {
  /**
   * The severities this handler is told of (firing and resolved alike). @default every severity
   */
  severities?: readonly AlertSeverity[];
}

/** Every option of `alerting.addHandler`; any other name is rejected. */
export const ALERT_HANDLER_OPTION_NAMES = { severities: true } as const satisfies OptionNames<AlertHandlerOptions>;

/** What `alerting.history(filter)` keeps: alerts matching every field given. */
export interface AlertHistoryFilter {
  severity?: AlertSeverity;
  status?: Alert['status'];
  /** Only alerts at or after this clock time. */
  since?: number;
  /** Only the most recent `limit` of those (still oldest first). */
  limit?: number;
}

/** Every field of a history filter; any other name is rejected. */
export const ALERT_HISTORY_FILTER_NAMES = {
  severity: true,
  status: true,
  since: true,
  limit: true,
} as const satisfies OptionNames<AlertHistoryFilter>;

export const ALERT_STATUSES: readonly Alert['status'][] = ['firing', 'resolved'];

export interface WebhookOptions {
  /** Where alerts are POSTed as JSON. */
  url: string;
  /** The fetch implementation. @default globalThis.fetch */
  fetch?: WebhookFetch;
  /** Each attempt is aborted after this long, in milliseconds. @default 5_000 */
  timeoutMs?: number;
  /** Retry options for failed attempts (network errors, timeouts, 429 and 5xx answers). @default { maxAttempts: 3, backoff: exponential 200 ms → 2 s } */
  retry?: Omit<RetryOptions, 'clock'>;
  /** Extra request headers. */
  headers?: Record<string, string>;
  /** Builds the JSON body from an alert. @default the alert itself */
  body?: (alert: Alert) => unknown;
  clock?: Clock;
}

/** The part of `fetch` the webhook handler uses. */
export type WebhookFetch = (
  url: string,
  init: { method: string; headers: Record<string, string>; body: string; signal: AbortSignal },
) => Promise<{ ok: boolean; status: number; headers?: unknown; body?: { cancel?: () => unknown } | null }>;

/** Every option `webhookHandler` takes; any other name is rejected. */
export const WEBHOOK_OPTION_NAMES = {
  url: true,
  fetch: true,
  timeoutMs: true,
  retry: true,
  headers: true,
  body: true,
  clock: true,
} as const satisfies OptionNames<WebhookOptions>;

export const WEBHOOK_DEFAULTS = { timeoutMs: 5_000, maxAttempts: 3, initialDelayMs: 200, maxDelayMs: 2_000 } as const;
