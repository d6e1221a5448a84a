export {
  Idempotency,
  type IdempotencyEvent,
  type IdempotencySource,
  type IdempotentResult,
  idempotency,
  ReplayedError,
} from './idempotency.js';
export { IDEMPOTENCY_DEFAULTS, type IdempotencyExecuteOptions, type IdempotencyOptions } from './options.js';
export type { IdempotencyRecord, RecordedError, RecordedOutcome } from './record.js';
