import type { ErrorCategory } from '../errors/classify.js';
import type { DeadLetterReason } from '../messages/options.js';
import type { RollbackReason } from '../transaction/options.js';
import { NameCounts } from './names.js';
import { LatencySketch } from './sketch.js';

export const ERROR_CATEGORIES: readonly ErrorCategory[] = [
  'timeout',
  'network',
  'auth',
  'validation',
  'rate_limit',
  'invalid_state',
  'cancelled',
  'configuration',
  'dependency',
  'unknown',
];

export const DEAD_LETTER_REASONS: readonly DeadLetterReason[] = ['poison', 'max_retries_exceeded'];
export const ROLLBACK_REASONS: readonly RollbackReason[] = ['network_error', 'error', 'outcome_unknown'];

/** A counter per reason, all at 0. */
export const zeroes = <R extends string>(reasons: readonly R[]): Record<R, number> =>
  Object.fromEntries(reasons.map((r) => [r, 0])) as Record<R, number>;

/** Adds every count of `from` into `into`. */
export function addCounts<R extends string>(into: Record<R, number>, from: Readonly<Record<R, number>>): void {
  for (const r in from) into[r] += from[r];
}

/** Sets every count of `counts` to 0. */
export function clearCounts(counts: Record<string, number>): void {
  for (const r in counts) counts[r] = 0;
}

/** The name an error is counted under in `errorsByType`. */
export function errorName(error: unknown): string {
  if (typeof error === 'object' && error !== null) {
    try {
      const name = (error as { name?: unknown }).name;
      if (typeof name === 'string' && name.length > 0) return name;
    } catch {
      // a getter that throws: counted as an object
    }
    return 'object';
  }
  return typeof error;
}

/** One sub-window of a metrics collector: plain counters and a compact sketch. */
export class Slot {
  id = Number.NEGATIVE_INFINITY;
  calls = 0;
  ok = 0;
  failed = 0;
  errors = 0;
  cacheHits = 0;
  cacheMisses = 0;
  attempts = 0;
  retries = 0;
  timeouts = 0;
  rejections = 0;
  breakerOpens = 0;
  commits = 0;
  shed = 0;
  rateLimited = 0;
  readonly latency = new LatencySketch('uint32');
  readonly categories = zeroes(ERROR_CATEGORIES);
  readonly types: NameCounts;
  readonly deadLetters = zeroes(DEAD_LETTER_REASONS);
  readonly rollbacks = zeroes(ROLLBACK_REASONS);

  /** `maxErrorTypes`: the error names counted by name, the rest under `'other'`. */
  constructor(maxErrorTypes: number) {
    this.types = new NameCounts(maxErrorTypes);
  }

  reset(id: number): void {
    this.id = id;
    this.calls = this.ok = this.failed = this.errors = 0;
    this.cacheHits = this.cacheMisses = 0;
    this.attempts = this.retries = this.timeouts = this.rejections = 0;
    this.breakerOpens = this.commits = this.shed = this.rateLimited = 0;
    this.latency.clear();
    clearCounts(this.categories);
    clearCounts(this.deadLetters);
    clearCounts(this.rollbacks);
    this.types.clear();
  }
}
