import {
  type AdaptiveLimitOptions,
  type ResolvedAdaptiveLimitOptions,
  resolveAdaptiveLimitOptions,
} from './options.js';

/** One finished call, as the adaptive limit learns from it. */
export interface RttSample {
  /** The call's round-trip time (its own run, not its wait in a queue), in ms. */
  readonly rttMs: number;
  /** Calls in flight when this one started, itself included. */
  readonly inflight: number;
}

/** The state of an adaptive limit: plain JSON numbers, never mutated (each sample returns a new one). */
export interface AdaptiveLimitState {
  /** The limit's estimate; the concurrency allowed is its integer part (see `limitOf`). */
  readonly limit: number;
  /** The long-term RTT baseline, in ms: the round-trip time without queueing. 0 until first measured. */
  readonly baselineMs: number;
  /** The mean round-trip time of the last round, in ms (0 before the first round). */
  readonly rttMs: number;
  /** Samples still to take in the baseline measurement under way; 0 when none is. */
  readonly probeLeft: number;
  readonly probeSumMs: number;
  /** Clock time at which the baseline is measured again. */
  readonly nextProbeAt: number;
  /** The current round: when it started, the sum and count of its round-trip times, its highest `inflight`. */
  readonly roundStart: number;
  readonly roundSumMs: number;
  readonly roundCount: number;
  readonly roundPeak: number;
}

/** A gradient concurrency limit: a pure state machine over round-trip time samples. */
export interface AdaptiveLimit {
  readonly options: ResolvedAdaptiveLimitOptions;
  /** The state before any sample: measuring the baseline at half of `initialLimit`. */
  initial(now: number): AdaptiveLimitState;
  /** Folds one finished call into `state` (`undefined`: initial), purely; a `TypeError` for a bad sample. */
  next(state: AdaptiveLimitState | undefined, sample: RttSample, now: number): AdaptiveLimitState;
  /** The concurrency `state` allows now: an integer within `[minLimit, maxLimit]`. */
  limitOf(state: AdaptiveLimitState | undefined): number;
}

const badSample = (sample: RttSample | null | undefined): TypeError =>
  new TypeError(
    `adaptiveLimit.next: sample: expected { rttMs: a finite number >= 0, inflight: a finite number >= 0 }, received ${
      sample === null || typeof sample !== 'object'
        ? String(sample)
        : `{ rttMs: ${String(sample.rttMs)}, inflight: ${String(sample.inflight)} }`
    }`,
  );

// After the idea of Netflix's concurrency-limits (Gradient2) and Envoy's adaptive concurrency filter.
/**
 * A concurrency limit that grows while latency stays near its measured minimum and shrinks as
 * it rises (docs/load-shedding.md): `bulkhead({ limit: adaptiveLimit({ maxLimit: 200 }), queue: 50 })`.
 */
export function adaptiveLimit(options: AdaptiveLimitOptions = {}): AdaptiveLimit {
  const o = resolveAdaptiveLimitOptions(options);
  const { minLimit, maxLimit, smoothing, tolerance, baselineIntervalMs, baselineSamples } = o;
  const clamp = (limit: number) => Math.min(maxLimit, Math.max(minLimit, limit));
  const probeLimit = (limit: number) => Math.max(minLimit, Math.floor(limit / 2));

  const initial = (now: number): AdaptiveLimitState => ({
    limit: o.initialLimit,
    baselineMs: 0,
    rttMs: 0,
    probeLeft: baselineSamples,
    probeSumMs: 0,
    nextProbeAt: now,
    roundStart: now,
    roundSumMs: 0,
    roundCount: 0,
    roundPeak: 0,
  });

  const probe = (s: AdaptiveLimitState, rttMs: number, inflight: number, now: number): AdaptiveLimitState => {
    // Calls started before the measurement ran above its concurrency: they measure queueing.
    if (inflight > probeLimit(s.limit)) return s;
    if (s.probeLeft > 1) return { ...s, probeLeft: s.probeLeft - 1, probeSumMs: s.probeSumMs + rttMs };
    // At least 1 ms, the system clock's resolution: a baseline of 0 would make every call
    // of 1 ms a slowdown past any tolerance, and the limit fall to minLimit.
    const measured = Math.max(1, (s.probeSumMs + rttMs) / baselineSamples);
    return {
      ...s,
      baselineMs: s.baselineMs === 0 ? measured : (s.baselineMs + measured) / 2,
      probeLeft: 0,
      probeSumMs: 0,
      nextProbeAt: now + baselineIntervalMs,
      roundStart: now,
      roundSumMs: 0,
      roundCount: 0,
      roundPeak: 0,
    };
  };

  const next = (state: AdaptiveLimitState | undefined, sample: RttSample, now: number): AdaptiveLimitState => {
    const rttMs = sample?.rttMs;
    const inflight = sample?.inflight;
    if (
      !(
        typeof rttMs === 'number' &&
        rttMs >= 0 &&
        rttMs < Number.POSITIVE_INFINITY &&
        typeof inflight === 'number' &&
        inflight >= 0 &&
        inflight < Number.POSITIVE_INFINITY
      )
    ) {
      throw badSample(sample);
    }
    const s = state ?? initial(now);
    if (s.probeLeft > 0) return probe(s, rttMs, inflight, now);
    // A fast call that ran at no more than the baseline's concurrency (one started during a
    // measurement, or in a lull) says nothing about the limit, and would pull the round's mean
    // down: it is left out. A slow one at that concurrency still counts (the upstream slowed),
    // and so does one at the limit: at minLimit the two concurrencies are one, and leaving
    // such calls out ended no round, so the limit never grew again.
    const counts =
      inflight > probeLimit(s.limit) || inflight >= Math.floor(s.limit) || rttMs > tolerance * s.baselineMs;
    const roundSumMs = counts ? s.roundSumMs + rttMs : s.roundSumMs;
    const roundCount = counts ? s.roundCount + 1 : s.roundCount;
    const roundPeak = Math.max(inflight, s.roundPeak);
    // A clock stepped back waits from now, not the step as well.
    const roundStart = Math.min(s.roundStart, now);
    if (now - roundStart < s.baselineMs || roundCount === 0)
      return { ...s, roundStart, roundSumMs, roundCount, roundPeak };
    // The round is over: judge its mean round-trip time against the baseline.
    const rtt = roundSumMs / roundCount;
    const gradient = Math.max(0.5, Math.min(1, (tolerance * s.baselineMs) / rtt));
    let target = s.limit;
    if (gradient < 1) target = s.limit * gradient;
    else if (roundPeak >= Math.floor(s.limit)) target = s.limit + Math.sqrt(s.limit) / 3;
    const limit = clamp(s.limit + (target - s.limit) * smoothing);
    const measure = now >= s.nextProbeAt;
    return {
      limit,
      baselineMs: s.baselineMs,
      rttMs: rtt,
      probeLeft: measure ? baselineSamples : 0,
      probeSumMs: 0,
      nextProbeAt: Math.min(s.nextProbeAt, now + baselineIntervalMs),
      roundStart: now,
      roundSumMs: 0,
      roundCount: 0,
      roundPeak: 0,
    };
  };

  const limitOf = (state: AdaptiveLimitState | undefined): number => {
    if (state === undefined) return probeLimit(o.initialLimit);
    return state.probeLeft > 0 ? probeLimit(state.limit) : Math.floor(state.limit);
  };

  return { options: o, initial, next, limitOf };
}
