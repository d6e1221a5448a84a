import type { ErrorCategory } from '../errors/classify.js';
import type { DeadLetterReason } from '../messages/options.js';
import type { RollbackReason } from '../transaction/options.js';
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

/** The key that collects every name beyond a bounded map's limit. */
export const OTHER = 'other';
/** Longest error name or label kept; longer ones are cut, so a map's memory stays bounded. */
export const MAX_NAME_LENGTH = 48;

/**
 * A key to keep in a bounded map: at most {@link MAX_NAME_LENGTH} characters, copied so it
 * does not keep a longer parent string alive (V8 slices share their parent's memory).
 * Runs only when a new name enters a map.
 */
export const ownKey = (name: string): string =>
  name.length > MAX_NAME_LENGTH ? Array.from(name.slice(0, MAX_NAME_LENGTH)).join('') : name;

/** Adds `n` under `name`, or under {@link OTHER} once `max` distinct names are present. */
export function countBounded(map: Map<string, number>, name: string, max: number, n = 1): void {
  const current = map.get(name);
  if (current !== undefined) {
    map.set(name, current + n);
    return;
  }
  const key = ownKey(name);
  const existing = key === name ? undefined : map.get(key);
  if (existing !== undefined) map.set(key, existing + n);
  else if (map.size < max || key === OTHER) map.set(key, n);
  else map.set(OTHER, (map.get(OTHER) ?? 0) + n);
}

/** The name an error is counted under in `errorsByType`. */
export function errorName(error: unknown): string {
  if (typeof error === 'object' && error !== null) {
    const name = (error as { name?: unknown }).name;
    if (typeof name === 'string' && name.length > 0) return name;
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
  readonly types = new Map<string, number>();
  readonly deadLetters = zeroes(DEAD_LETTER_REASONS);
  readonly rollbacks = zeroes(ROLLBACK_REASONS);

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

/** Merges per-slot name counts, keeping the `max` largest names and folding the rest into {@link OTHER}. */
export function mergeTypes(maps: readonly Map<string, number>[], max: number): Record<string, number> {
  const total = new Map<string, number>();
  for (const map of maps) for (const [name, n] of map) total.set(name, (total.get(name) ?? 0) + n);
  let other = total.get(OTHER) ?? 0;
  total.delete(OTHER);
  const sorted = [...total].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  for (const [, n] of sorted.slice(max)) other += n;
  const result: Record<string, number> = Object.fromEntries(sorted.slice(0, max));
  if (other > 0) result[OTHER] = other;
  return result;
}
