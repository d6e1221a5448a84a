export { type BulkheadEvent, BulkheadPolicy, bulkhead } from './bulkhead.js';
export { BULKHEAD_DEFAULTS, type BulkheadOptions } from './options.js';
