import { classify } from '../errors/classify.js';
import { hideUrlSecrets, messageOf } from '../errors/errors.js';
import { OptionsValidator } from '../errors/validate.js';
import type { Disposer } from '../events/emitter.js';
import {
  type EventLogger,
  type EventLogLevel,
  LOG_EVENTS_DEFAULTS,
  type LogEventsOptions,
  validateLogEventsOptions,
} from './options.js';

/** Anything with `onEvent(listener)` returning a disposer: every policy, pipeline and breaker. */
export interface EventSource<E = unknown> {
  onEvent(listener: (event: E) => void): Disposer;
}

type Bag = Record<string, unknown>;

/** Fields copied as they are when an event carries them (numbers and strings only). */
const PLAIN_FIELDS = new Set([
  'attempt',
  'attempts',
  'delayMs',
  'durationMs',
  'timeoutMs',
  'retryAfterMs',
  'reason',
  'action',
  'state',
]);
/** Fields written by hand below. (Not a spread of PLAIN_FIELDS: a spread runs at import, so bundlers keep it.) */
const HANDLED = new Set(['type', 'policy', 'error', 'from', 'to']);

const isAlert = (e: Bag): boolean => typeof e.type !== 'string' && typeof e.severity === 'string' && 'status' in e;

function stateChangeLevel(to: unknown): EventLogLevel {
  return to === 'open' || to === 'isolated' ? 'error' : to === 'half-open' ? 'warn' : 'info';
}

function alertLevel(e: Bag): EventLogLevel {
  if (e.status !== 'firing') return 'info';
  return e.severity === 'critical' ? 'error' : e.severity === 'warning' ? 'warn' : 'info';
}

function describe(type: string, e: Bag, f: Bag): string {
  const who = typeof e.policy === 'string' ? `${e.policy}: ` : '';
  switch (type) {
    case 'failure':
      return f.attempt === undefined
        ? `${who}call failed (${f.errorCategory})`
        : `${who}attempt ${f.attempt} failed (${f.errorCategory})`;
    case 'retry':
      return `${who}attempt ${f.attempt} failed (${f.errorCategory}), retrying in ${Math.round(Number(f.delayMs))} ms`;
    case 'give_up':
      return `${who}gave up after ${f.attempts} attempt(s) (${f.reason})`;
    case 'success':
      return f.attempts === undefined ? `${who}call succeeded` : `${who}succeeded after ${f.attempts} attempt(s)`;
    case 'state_change':
      return `${who}circuit ${f.from} -> ${f.to}`;
    case 'rejected':
      return f.state === undefined ? `${who}call rejected` : `${who}call rejected (circuit ${f.state})`;
    case 'timeout':
      return `${who}timed out after ${f.timeoutMs} ms`;
    case 'alert':
      return `alert ${e.name} ${e.status}: ${e.metric} = ${e.value} (threshold ${e.threshold})`;
    default:
      return `${who}${type}`;
  }
}

/**
 * A listener that writes each event it receives as one structured record; what
 * {@link logEvents} subscribes. Pass it as an alerting handler to log alerts the same way:
 * `alerting({ handlers: [eventLogger(pino())] })`.
 */
export function eventLogger(logger: EventLogger, options: LogEventsOptions = {}): (event: unknown) => void {
  validateLogEventsOptions(logger, options);
  const levels: Record<string, EventLogLevel | undefined> = { ...LOG_EVENTS_DEFAULTS.levels, ...options.levels };
  const overridden = new Set(Object.keys(options.levels ?? {}));
  const correlationId = options.correlationId;

  return (event) => {
    if (typeof event !== 'object' || event === null) return;
    const e = event as Bag;
    const type = isAlert(e) ? 'alert' : typeof e.type === 'string' ? e.type : 'event';
    const level = overridden.has(type)
      ? levels[type]!
      : type === 'state_change'
        ? stateChangeLevel(e.to)
        : type === 'alert'
          ? alertLevel(e)
          : (levels[type] ?? LOG_EVENTS_DEFAULTS.otherLevel);
    if (level === 'off') return;
    const write = logger[level];
    if (typeof write !== 'function') return; // `debug` is optional

    const fields: Bag = { event: type };
    if (typeof e.policy === 'string') fields.policy = e.policy;
    if (type === 'alert') {
      // `alert`, not `name`: pino reserves `name` for the logger's own name.
      fields.alert = e.name;
      for (const key of ['metric', 'severity', 'value', 'threshold', 'status']) fields[key] = e[key];
    }
    for (const key in e) {
      const value = e[key];
      if (PLAIN_FIELDS.has(key) || (!HANDLED.has(key) && type !== 'alert')) {
        if (typeof value === 'number' || typeof value === 'string' || typeof value === 'boolean') fields[key] = value;
      }
    }
    if (type === 'state_change') {
      fields.from = e.from;
      fields.to = e.to;
      fields.state = e.to;
    }
    if ('error' in e) {
      fields.errorCategory = classify(e.error);
      // An upstream's can be any size: one log line stays small. A quoted URL's secrets stay out.
      fields.errorMessage = hideUrlSecrets(messageOf(e.error), 1_000);
      if (e.error instanceof Error) fields.errorName = e.error.name;
    }
    const id = correlationId?.();
    if (id !== undefined) fields.correlationId = id;
    write.call(logger, fields, describe(type, e, fields));
  };
}

/**
 * Writes every event of `source` (anything with `onEvent`) as one pino-style record,
 * `logger[level](fields, message)`; returns the disposer. Fields: docs/logging-and-config.md.
 *
 * @example
 * const stop = logEvents(retry({ maxAttempts: 3 }), pino(), { correlationId: () => als.getStore()?.id });
 */
export function logEvents<E>(source: EventSource<E>, logger: EventLogger, options: LogEventsOptions = {}): Disposer {
  const listener = eventLogger(logger, options);
  if (typeof source?.onEvent !== 'function') {
    const v = new OptionsValidator('logEvents');
    v.check(false, 'source', source, 'an object with onEvent(listener)');
    v.done();
  }
  return source.onEvent(listener);
}
