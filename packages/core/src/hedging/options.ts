import type { Clock } from '../clock/clock.js';
import { OptionsValidator } from '../errors/validate.js';

export interface HedgeOptions {
  /**
   * How long to wait for an answer before starting another attempt, in ms; or a function
   * read at each call (e.g. the p95 latency of recent calls). A function result that is not
   * a finite number ≥ 0 disables hedging for that call. Required.
   */
  delayMs: number | (() => number);
  /** Extra attempts at most (so up to `1 + maxHedges` run at once). This bounds the work per call. @default 1 */
  maxHedges?: number;
  /** Name stamped on events. @default 'hedge' */
  name?: string;
  /** @default systemClock */
  clock?: Clock;
}

export const HEDGE_DEFAULTS = {
  maxHedges: 1,
  name: 'hedge',
} as const;

export interface ResolvedHedgeOptions {
  delayMs: number | (() => number);
  maxHedges: number;
  name: string;
}

export function resolveHedgeOptions(options: HedgeOptions): ResolvedHedgeOptions {
  const v = new OptionsValidator('hedge');
  const given = (options ?? {}) as Partial<HedgeOptions>;
  v.required('delayMs', given.delayMs);
  if (typeof given.delayMs !== 'function') v.number('delayMs', given.delayMs, { min: 0 });
  v.integer('maxHedges', given.maxHedges, { min: 0, max: 100 });
  v.string('name', given.name);
  v.done();
  return {
    delayMs: given.delayMs!,
    maxHedges: given.maxHedges ?? HEDGE_DEFAULTS.maxHedges,
    name: given.name ?? HEDGE_DEFAULTS.name,
  };
}
