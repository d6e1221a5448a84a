import { type Backoff, backoff } from './backoff.js';

/** What a retry preset sets; spread it into `retry({ ...retryPresets.openai, name: 'openai' })`. */
export interface RetryPreset {
  readonly maxAttempts: number;
  readonly backoff: Backoff;
}

/** Exponential ×2 with full jitter from `initialMs`, capped at ten times it. */
const exponential = (maxAttempts: number, initialMs: number): RetryPreset => ({
  maxAttempts,
  backoff: backoff.exponential({ initialMs, multiplier: 2, maxMs: 10 * initialMs, jitter: 'full' }),
});

/**
 * Starting points per provider and per kind of call, as `retry` options. Each access returns
 * a fresh object, so spread it and override what you need:
 * `retry({ ...retryPresets.anthropic, maxAttempts: 6 })`. Every exponential preset doubles
 * the wait from its base, draws it uniformly between 0 and that (full jitter), and caps it
 * at ten times the base; all retry what `isTransient` accepts and honour `Retry-After`.
 * - `openai`, `anthropic`: 4 attempts, waits up to 2, 4 and 8 s.
 * - `ollama`: 3 attempts, 100 ms apart (a local model answers or fails fast).
 * - `default`: 3 attempts, waits up to 1 and 2 s.
 * - `production`: 3 attempts, waits up to 0.5 and 1 s (at most 5 s).
 * - `expensive`: 5 attempts, waits up to 1, 2, 4 and 8 s (at most 10 s), for calls worth waiting for.
 */
export const retryPresets = {
  get openai(): RetryPreset {
    return exponential(4, 2_000);
  },
  get anthropic(): RetryPreset {
    return exponential(4, 2_000);
  },
  get ollama(): RetryPreset {
    return { maxAttempts: 3, backoff: backoff.constant(100) };
  },
  get default(): RetryPreset {
    return exponential(3, 1_000);
  },
  get production(): RetryPreset {
    return exponential(3, 500);
  },
  get expensive(): RetryPreset {
    return exponential(5, 1_000);
  },
};
