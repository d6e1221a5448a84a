import { type OptionNames, OptionsValidator } from '../errors/validate.js';

export interface BulkheadOptions {
  /** Calls allowed to execute at the same time. Required. */
  limit: number;
  /**
   * Calls allowed to wait (FIFO) for an execution slot; beyond it calls are rejected with
   * `BulkheadRejectedError`. This is the memory bound of the queue. @default 0
   */
  queue?: number;
  /** Name stamped on events. @default 'bulkhead' */
  name?: string;
}

/** Every option `bulkhead` takes; any other name is rejected. */
export const BULKHEAD_OPTION_NAMES = {
  limit: true,
  queue: true,
  name: true,
} as const satisfies OptionNames<BulkheadOptions>;

export const BULKHEAD_DEFAULTS = {
  queue: 0,
  name: 'bulkhead',
} as const;

export interface ResolvedBulkheadOptions {
  limit: number;
  queue: number;
  name: string;
}

export function resolveBulkheadOptions(options: BulkheadOptions): ResolvedBulkheadOptions {
  const v = new OptionsValidator('bulkhead');
  const given = v.known(options, BULKHEAD_OPTION_NAMES);
  v.required('limit', given.limit).integer('limit', given.limit, { min: 1 });
  v.integer('queue', given.queue, { min: 0 });
  v.string('name', given.name);
  v.done();
  return {
    limit: given.limit!,
    queue: given.queue ?? BULKHEAD_DEFAULTS.queue,
    name: given.name ?? BULKHEAD_DEFAULTS.name,
  };
}
