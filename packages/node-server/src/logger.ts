import type { EventLogger } from '@resilience/core';

/**
 * The logger used when none is given: `console`, message first. The message goes in as a `%s`
 * argument, never as the format: one that quotes a request (`%c`, `%o`) would take the fields
 * as its argument, and `%c` prints nothing of them.
 */
export const consoleLogger: EventLogger = {
  info: (fields, message) => console.info('%s', message, fields),
  warn: (fields, message) => console.warn('%s', message, fields),
  error: (fields, message) => console.error('%s', message, fields),
};

/**
 * `logger` whose calls never throw: a log sink that fails costs its line, never the answer of
 * the request being logged (a throw there escaped as an unhandled rejection, ending the process).
 */
export function quietLogger(logger: EventLogger): EventLogger {
  const quiet =
    (level: 'info' | 'warn' | 'error'): EventLogger['info'] =>
    (fields, message) => {
      try {
        logger[level](fields, message);
      } catch {}
    };
  return { info: quiet('info'), warn: quiet('warn'), error: quiet('error') };
}
