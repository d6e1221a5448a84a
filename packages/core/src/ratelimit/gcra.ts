import { type OptionNames, OptionsValidator } from '../errors/validate.js';
import type { PackedCodec } from '../store/store.js';
import { decision, defineAlgorithm, EPSILON, type RateLimitAlgorithm, type Step } from './algorithm.js';

export interface GcraOptions {
  /** Requests per `periodMs` at the sustained rate. */
  limit: number;
  /** The period of `limit`, in ms. */
  periodMs: number;
  /** Requests admitted at once from an idle key. @default limit */
  burst?: number;
}

/** Every option of `gcra`; any other name is rejected. */
export const GCRA_OPTION_NAMES = {
  limit: true,
  periodMs: true,
  burst: true,
} as const satisfies OptionNames<GcraOptions>;

/** The stored state: the theoretical arrival time (ms) of the next request. Absent means idle. */
export type GcraState = { readonly tat: number };

const codec: PackedCodec<GcraState> = {
  width: 1,
  pack(state, into, offset) {
    into[offset] = state.tat;
  },
  unpack: (from, offset) => ({ tat: from[offset]! }),
};

/**
 * The generic cell rate algorithm: one timestamp per key. Each unit of cost advances the
 * theoretical arrival time by `periodMs / limit`; a request is admitted while that time
 * stays within `burst` intervals of now. Over any interval of `t` ms it admits at most
 * `burst + t · limit / periodMs` cost.
 */
export function gcra(options: GcraOptions): RateLimitAlgorithm<GcraState> {
  const v = new OptionsValidator('gcra');
  const o = v.known(options, GCRA_OPTION_NAMES);
  v.required('limit', o.limit).number('limit', o.limit, { gt: 0 });
  v.required('periodMs', o.periodMs).number('periodMs', o.periodMs, { gt: 0 });
  v.number('burst', o.burst, { min: 1 });
  v.done();
  const { limit, periodMs } = options;
  const burst = options.burst ?? limit;
  const interval = periodMs / limit;
  const tolerance = burst * interval;

  const step: Step = (s, at, fresh, cost, now, next, commit) => {
    const tat = fresh ? now : Math.max(s[at]!, now);
    const newTat = tat + cost * interval;
    const allowed = newTat - now <= tolerance + EPSILON * interval;
    if (!allowed || !commit) {
      next[1] = Number.NaN;
      next[2] = allowed ? 1 : 0;
      return decision(
        allowed,
        burst,
        Math.max(0, Math.floor((tolerance - (tat - now)) / interval + EPSILON)),
        Math.ceil(tat - now),
        allowed ? 0 : Math.ceil(newTat - tolerance - now - EPSILON * interval),
      );
    }
    next[0] = newTat;
    next[1] = newTat - now;
    next[2] = 1;
    return decision(
      true,
      burst,
      Math.max(0, Math.floor((tolerance - (newTat - now)) / interval + EPSILON)),
      Math.ceil(newTat - now),
      0,
    );
  };
  return defineAlgorithm('gcra', { limit, periodMs, burst }, codec, step, burst, burst, tolerance);
}
