import type { EventLogger } from '@resilience/core';

/** The logger used when none is given: `console`, message first. */
export const consoleLogger: EventLogger = {
  info: (fields, message) => console.info(message, fields),
  warn: (fields, message) => console.warn(message, fields),
  error: (fields, message) => console.error(message, fields),
};
