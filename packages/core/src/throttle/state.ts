import { OptionsValidator } from '../errors/validate.js';
import type { Transition } from '../store/store.js';
import { checkThrottleOptions, THROTTLE_BUCKETS, THROTTLE_DEFAULTS } from './options.js';

/**
 * The JSON state of an adaptive throttle: requests and accepts (`counts[2i]`, `counts[2i + 1]`)
 * of 12 buckets in a ring indexed by `epoch % 12`, `epoch` the newest bucket's number.
 */
export interface ThrottleState {
  readonly epoch: number;
  readonly counts: readonly number[];
}

/**
 * A request to admit (with the random draw in `[0, 1)` its probability is compared with), or an
 * admitted request's end to count: `'accepted'` by the dependency, or `'failed'`.
 */
export type ThrottleInput = { readonly draw: number } | 'accepted' | 'failed';

/** What admitting a request decided; for an accept, the figures after counting it. */
export interface ThrottleDecision {
  readonly allowed: boolean;
  /** The rejection probability the request was subject to, in `[0, 1)`. */
  readonly probability: number;
  /** Requests ended in the window (refused or answered; none in flight) and accepts, before this input. */
  readonly requests: number;
  readonly accepts: number;
}

// The Google SRE book's "Handling Overload": a request is rejected with probability
// max(0, (requests − k · accepts) / (requests + 1)) over the window and counted in `requests`
// whether admitted or not; nothing is rejected while one request in `k` is accepted. Capped at
// `maxRejection`: with refusals counted, a window of failures alone lets too few calls through
// for their accepts ever to outweigh the refusals once the dependency is back.
/**
 * {@link adaptiveThrottle}'s decision as a pure store transition; `'accepted'` counts a
 * request the dependency accepted.
 */
export function throttleTransition(
  k: number,
  windowMs: number,
  maxRejection: number = THROTTLE_DEFAULTS.maxRejection,
): Transition<ThrottleState, ThrottleInput, ThrottleDecision> {
  const v = new OptionsValidator('throttleTransition').required('k', k).required('windowMs', windowMs);
  checkThrottleOptions(v, { k, windowMs, maxRejection });
  v.done();
  const bucketMs = windowMs / THROTTLE_BUCKETS;
  return {
    name: 'adaptiveThrottle',
    params: { k, windowMs, maxRejection },
    apply(state, input, now) {
      // A clock that went back counts into the newest bucket (more than a window back: afresh).
      let epoch = Math.floor(now / bucketMs);
      if (state && epoch < state.epoch && state.epoch - epoch < THROTTLE_BUCKETS) epoch = state.epoch;
      const counts = current(state, epoch);
      let requests = 0;
      let accepts = 0;
      for (let i = 0; i < counts.length; i += 2) {
        requests += counts[i]!;
        accepts += counts[i + 1]!;
      }
      const slot = 2 * (((epoch % THROTTLE_BUCKETS) + THROTTLE_BUCKETS) % THROTTLE_BUCKETS);
      const probability = Math.min(maxRejection, Math.max(0, (requests - k * accepts) / (requests + 1)));
      // A request counts once it has ended (refused here, or answered): requests still in
      // flight, none accepted yet, would make a burst to a healthy dependency refuse itself.
      let allowed = true;
      if (typeof input === 'object') allowed = !(input.draw < probability);
      if (!allowed || input === 'failed') counts[slot]! += 1;
      if (input === 'accepted') {
        counts[slot]! += 1;
        counts[slot + 1]! += 1;
      }
      return { state: { epoch, counts }, output: { allowed, probability, requests, accepts }, ttlMs: windowMs };
    },
  };
}

/** A fresh copy of the counts as of `epoch`: buckets older than the window are zeroed. */
function current(state: ThrottleState | undefined, epoch: number): number[] {
  const counts = state === undefined ? new Array<number>(2 * THROTTLE_BUCKETS).fill(0) : [...state.counts];
  if (state === undefined) return counts;
  if (Math.abs(epoch - state.epoch) >= THROTTLE_BUCKETS) return counts.fill(0);
  for (let e = state.epoch + 1; e <= epoch; e++) {
    const slot = 2 * (((e % THROTTLE_BUCKETS) + THROTTLE_BUCKETS) % THROTTLE_BUCKETS);
    counts[slot] = 0;
    counts[slot + 1] = 0;
  }
  return counts;
}
