export { annotateActiveSpan, type RequestDecision } from './annotate.js';
export { ATTRIBUTES, type Outcome, type RejectionReason } from './attributes.js';
export { instrumentHttpDecisions } from './http-decisions.js';
export { instrument, instrumentAll } from './instrument.js';
export { DURATION_BUCKETS } from './instruments.js';
export type { InstrumentAllOptions, InstrumentOptions, RateLimitUsage } from './options.js';
export { SPANS } from './tracing.js';
