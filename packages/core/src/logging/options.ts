import { isPlainObject, type OptionNames, OptionsValidator } from '../errors/validate.js';

/** A level of a pino-style logger, or `'off'` to drop the event. */
export type EventLogLevel = 'debug' | 'info' | 'warn' | 'error' | 'off';

/** Any logger with pino's `(fields, message)` methods; `debug` is optional (its events are dropped without it). */
export interface EventLogger {
  debug?(fields: object, message: string): void;
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export interface LogEventsOptions {
  /**
   * Level per event type (`retry`, `give_up`, ... or any type a custom source emits),
   * over {@link LOG_EVENTS_DEFAULTS}; `'off'` drops the event.
   * @example logEvents(policy, pino(), { levels: { success: 'debug', retry: 'info' } })
   */
  levels?: Partial<Record<string, EventLogLevel>>;
  /** The current request's correlation id (from `AsyncLocalStorage`, say), read per event. */
  correlationId?: () => string | undefined;
}

// `success` is off: one record per call is noise. `failure` is one failed attempt, which a
// `retry` or `give_up` record follows.
/** Default levels (docs/logging-and-config.md); unknown event types log at `info`. */
export const LOG_EVENTS_DEFAULTS = {
  levels: {
    success: 'off',
    failure: 'debug',
    retry: 'warn',
    give_up: 'error',
    rejected: 'warn',
    timeout: 'warn',
  },
  otherLevel: 'info',
} as const satisfies { levels: Record<string, EventLogLevel>; otherLevel: EventLogLevel };

/** Every option of `logEvents` and `eventLogger`; any other name is rejected. */
export const LOG_EVENTS_OPTION_NAMES = {
  levels: true,
  correlationId: true,
} as const satisfies OptionNames<LogEventsOptions>;

const LEVELS: readonly EventLogLevel[] = ['debug', 'info', 'warn', 'error', 'off'];

export function validateLogEventsOptions(logger: unknown, options: LogEventsOptions): void {
  const v = new OptionsValidator('logEvents');
  const l = logger as Partial<EventLogger> | undefined;
  v.check(
    typeof l?.info === 'function' && typeof l?.warn === 'function' && typeof l?.error === 'function',
    'logger',
    logger,
    'an object with info(), warn() and error()',
  );
  const o = v.known(options, LOG_EVENTS_OPTION_NAMES);
  const levels = o.levels;
  v.check(levels === undefined || isPlainObject(levels), 'levels', levels, 'an object of event type -> level');
  if (isPlainObject(levels))
    for (const [type, level] of Object.entries(levels)) v.oneOf(`levels.${type}`, level, LEVELS);
  v.predicate('correlationId', o.correlationId); // an async one would log a promise
  v.done();
}
