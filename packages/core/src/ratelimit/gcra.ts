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
 * The generic cell rate algorithm, one timestamp per key: any `t` ms admit at most
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
  // Sound values whose product overflows (or whose spacing rounds to 0) would answer NaN.
  v.check(interval > 0 && tolerance < Infinity, 'burst', burst, 'burst × periodMs / limit finite, > 0').done();

  // Relative to now: doubles at epoch-sized clock times are exact only to ~2.4e-4 ms, so
  // absolute times compared within 1e-9 intervals refused forever. `slack` forgives that noise;
  // a refusal's wait keeps half of it in hand, so a client waiting exactly retryAfterMs is admitted.
  const slack = Math.max(EPSILON * interval, 1e-3);
  const most = tolerance + slack;

  const step: Step = (s, at, fresh, cost, now, next, commit) => {
    let ahead = fresh ? 0 : Math.max(s[at]! - now, 0);
    // Never written more than `most` ahead: a clock that stepped back more than a period starts over.
    if (ahead > most + tolerance) ahead = 0;
    // Each admission rounds `now + after` by up to half an ulp of now, the same way each time
    // (60 of 16.67 ms refused a burst's 60th): forgive that once per cost of the burst.
    const m = most + Math.min(burst * now * 2.3e-16, interval / 4);
    const left = (ahead: number) => Math.max(0, Math.floor((m - ahead) / interval + EPSILON));
    const after = ahead + cost * interval;
    const allowed = after <= m;
    if (!allowed || !commit) {
      next[1] = Number.NaN;
      next[2] = allowed ? 1 : 0;
      return decision(allowed, burst, left(ahead), Math.ceil(ahead), allowed ? 0 : Math.ceil(after - m + slack / 2));
    }
    next[0] = now + after;
    next[1] = after;
    next[2] = 1;
    return decision(true, burst, left(after), Math.ceil(after), 0);
  };
  return defineAlgorithm('gcra', { limit, periodMs, burst }, codec, step, burst, burst, tolerance);
}
