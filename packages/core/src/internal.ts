// @resilience/core/internal: what the packages of this repository share with core.
// NO semver promise: anything here may change or go in any release, a patch included, so
// applications and third-party packages must not import it.
export { hideUrlSecrets, messageOf } from './errors/errors.js';
export { checkNested, isPlainObject, OptionsValidator, refuseSignal } from './errors/validate.js';
export { Emitter } from './events/emitter.js';
export { processWide } from './events/process-wide.js';
export { ReportGate } from './events/report-gate.js';
export { checkHealthJson } from './health/json.js';
export { emitHttpDecision } from './http/decisions.js';
export { RATE_LIMIT_FIELDS } from './http/ratelimit-headers.js';
// For adapters that wrap a user function in `idempotency` (the tRPC `idempotentMutation`): its `unrecorded()` is theirs too.
export { isUnrecorded, unrecordedValue } from './idempotency/unrecorded.js';
export { eventSources } from './pipeline/layers.js';
export { type AbortFollower, followAbort, followerCount, unfollowAbort } from './policy/abort-fanout.js';
export { type DeadlineEntry, DeadlineQueue } from './timeout/deadline-queue.js';
