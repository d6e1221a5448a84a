export {
  Idempotency,
  type IdempotencyEvent,
  type IdempotencySource,
  type IdempotentResult,
  idempotency,
} from './idempotency.js';
export { IDEMPOTENCY_DEFAULTS, type IdempotencyExecuteOptions, type IdempotencyOptions } from './options.js';
export type { IdempotencyRecord, RecordedError, RecordedOutcome } from './record.js';
export { ReplayedError } from './replayed-error.js';
export { type NotRecorded, type Unrecorded, unrecorded } from './unrecorded.js';
