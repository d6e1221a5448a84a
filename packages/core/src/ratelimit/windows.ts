import { type OptionNames, OptionsValidator } from '../errors/validate.js';
import type { PackedCodec } from '../store/store.js';
import { decision, defineAlgorithm, EPSILON, type RateLimitAlgorithm, type Step } from './algorithm.js';

export interface WindowOptions {
  /** Cost admitted per window. */
  limit: number;
  /** Window length in ms, at least 1; windows are aligned to multiples of it since the epoch. */
  windowMs: number;
}

/** Every option of `fixedWindow` and `slidingWindow`; any other name is rejected. */
export const WINDOW_OPTION_NAMES = { limit: true, windowMs: true } as const satisfies OptionNames<WindowOptions>;

/** The stored state of a fixed window: its start (ms) and the cost admitted in it. */
export type FixedWindowState = { readonly windowStart: number; readonly count: number };

/** The stored state of a sliding window: the current window's start and both windows' counts. */
export type SlidingWindowState = {
  readonly windowStart: number;
  readonly current: number;
  readonly previous: number;
};

const fixedCodec: PackedCodec<FixedWindowState> = {
  width: 2,
  pack(state, into, offset) {
    into[offset] = state.windowStart;
    into[offset + 1] = state.count;
  },
  unpack: (from, offset) => ({ windowStart: from[offset]!, count: from[offset + 1]! }),
};

const slidingCodec: PackedCodec<SlidingWindowState> = {
  width: 3,
  pack(state, into, offset) {
    into[offset] = state.windowStart;
    into[offset + 1] = state.current;
    into[offset + 2] = state.previous;
  },
  unpack: (from, offset) => ({ windowStart: from[offset]!, current: from[offset + 1]!, previous: from[offset + 2]! }),
};

function validate(subject: string, options: WindowOptions): void {
  const v = new OptionsValidator(subject);
  const o = v.known(options, WINDOW_OPTION_NAMES);
  v.required('limit', o.limit).number('limit', o.limit, { gt: 0 });
  v.required('windowMs', o.windowMs).number('windowMs', o.windowMs, { min: 1 });
  v.done();
}

/**
 * A counter per aligned window of `windowMs`. Admits at most `limit` cost in each aligned
 * window, but up to `2 · limit` across a window boundary.
 */
export function fixedWindow(options: WindowOptions): RateLimitAlgorithm<FixedWindowState> {
  validate('fixedWindow', options);
  const { limit, windowMs } = options;
  const step: Step = (s, at, fresh, cost, now, next, commit) => {
    let start = Math.floor(now / windowMs) * windowMs;
    // A clock stepped back (NTP, a caller's skew) keeps the later window, not a fresh one;
    // a step of more than a window starts over rather than refuse the key for the step.
    if (!fresh && s[at]! > start && s[at]! <= start + windowMs) start = s[at]!;
    const count = !fresh && s[at] === start ? s[at + 1]! : 0;
    const endMs = start + windowMs - now;
    const allowed = count + cost <= limit;
    if (!allowed || !commit) {
      next[2] = Number.NaN;
      next[3] = allowed ? 1 : 0;
      return decision(
        allowed,
        limit,
        Math.max(0, Math.floor(limit - count)),
        count > 0 ? Math.ceil(endMs) : 0,
        allowed ? 0 : Math.ceil(endMs),
      );
    }
    next[0] = start;
    next[1] = count + cost;
    next[2] = endMs;
    next[3] = 1;
    return decision(true, limit, Math.floor(limit - count - cost), Math.ceil(endMs), 0);
  };
  return defineAlgorithm('fixedWindow', { limit, windowMs }, fixedCodec, step, limit, limit, windowMs);
}

/**
 * The two-counter sliding window: the current window's cost plus the previous one's,
 * weighted by how much of it the sliding window still covers. Three numbers per key; any
 * `windowMs` interval admits at most `2 · limit` (see docs/rate-limiting.md).
 */
export function slidingWindow(options: WindowOptions): RateLimitAlgorithm<SlidingWindowState> {
  validate('slidingWindow', options);
  const { limit, windowMs } = options;
  const fade = 1e-3 / windowMs;
  const step: Step = (s, at, fresh, cost, now, next, commit) => {
    let start = Math.floor(now / windowMs) * windowMs;
    let current = 0;
    let previous = 0;
    if (!fresh) {
      const stored = s[at]!;
      if (stored >= start && stored <= start + windowMs) {
        start = stored; // the later window when the clock stepped back (less than a window)
        current = s[at + 1]!;
        previous = s[at + 2]!;
        // By index: with a fractional windowMs, start − windowMs may differ from the stored start.
      } else if (Math.round((start - stored) / windowMs) === 1) previous = s[at + 1]!;
    }
    const elapsed = Math.max(0, (now - start) / windowMs);
    const estimate = previous * (1 - elapsed) + current;
    // 1 µs of the previous count's fading forgiven: a `now` of epoch-milliseconds size (with Redis's
    // µs) is exact only to ~0.25 µs, so a client waiting exactly retryAfterMs was refused.
    const allowed = estimate + cost <= limit + EPSILON + previous * fade;
    if (!allowed || !commit) {
      next[3] = Number.NaN;
      next[4] = allowed ? 1 : 0;
      return decision(
        allowed,
        limit,
        Math.max(0, Math.floor(limit - estimate + EPSILON)),
        Math.ceil(drainedAt(start, current, previous, now) - now),
        allowed ? 0 : Math.ceil(admitAt(start, current, previous, cost) - now),
      );
    }
    current += cost;
    const resetMs = drainedAt(start, current, previous, now) - now;
    next[0] = start;
    next[1] = current;
    next[2] = previous;
    next[3] = resetMs;
    next[4] = 1;
    return decision(true, limit, Math.max(0, Math.floor(limit - estimate - cost + EPSILON)), Math.ceil(resetMs), 0);
  };

  // When the estimate reaches zero: the current count fades out over the next window; an
  // empty one is drained now (not at its start, which would be a negative resetMs).
  const drainedAt = (start: number, current: number, previous: number, now: number): number =>
    current > 0 ? start + 2 * windowMs : previous > 0 ? start + windowMs : now;

  // The earliest time at which `cost` fits (cost <= limit is checked by the limiter).
  const admitAt = (start: number, current: number, previous: number, cost: number): number => {
    const room = limit - cost - current;
    if (room >= 0 && previous > 0) return start + (1 - room / previous) * windowMs;
    // In the next window the current count becomes the weighted previous one.
    const nextRoom = limit - cost;
    if (current <= nextRoom) return start + windowMs;
    return start + windowMs + (1 - nextRoom / current) * windowMs;
  };

  return defineAlgorithm('slidingWindow', { limit, windowMs }, slidingCodec, step, limit, limit, windowMs);
}
