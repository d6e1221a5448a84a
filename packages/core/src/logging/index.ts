export { type EventSource, eventLogger, logEvents } from './log-events.js';
export {
  type EventLogger,
  type EventLogLevel,
  LOG_EVENTS_DEFAULTS,
  type LogEventsOptions,
} from './options.js';
