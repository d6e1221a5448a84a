import type { EventLogger } from '@resilience/core';
import type { OptionsValidator } from '@resilience/core/internal';

/** The logger used when none is given: `console`, message first. */
export const consoleLogger: EventLogger = {
  info: (fields, message) => console.info(message, fields),
  warn: (fields, message) => console.warn(message, fields),
  error: (fields, message) => console.error(message, fields),
};

/** Checks a `logger` option: a pino-style logger with `info`, `warn` and `error`. */
export function checkLogger(v: OptionsValidator, logger: unknown): void {
  v.check(
    logger === undefined ||
      ['info', 'warn', 'error'].every((level) => typeof (logger as Record<string, unknown>)?.[level] === 'function'),
    'logger',
    logger,
    'a logger with info, warn and error methods',
  );
}
