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
 * `retry` options per provider and kind of call (table in docs/retry.md), a fresh object each
 * access: `retry({ ...retryPresets.anthropic, maxAttempts: 6 })`.
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
