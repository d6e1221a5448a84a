import type { CircuitBreakerOptions } from '../breaker/options.js';
import { consecutive } from '../breaker/strategy.js';
import type { MessageProcessorOptions } from '../messages/options.js';
import type { RateLimiterOptions } from '../ratelimit/options.js';
import { tokenBucket } from '../ratelimit/token-bucket.js';
import { backoff, EXPONENTIAL_DEFAULTS } from '../retry/backoff.js';
import type { RetryOptions } from '../retry/options.js';
import type { EnvOptions } from './options.js';

// Each helper maps one section of `optionsFromEnv` onto the options of its consumer, with only
// the options whose variables are set: spread your own options over the result.

/** The `retry` section of {@link optionsFromEnv} as `retry()` options (an exponential backoff when a delay is set). */
export function toRetryOptions(section: EnvOptions['retry']): Pick<RetryOptions, 'maxAttempts' | 'backoff'> {
  const result: Pick<RetryOptions, 'maxAttempts' | 'backoff'> = {};
  if (section?.maxAttempts !== undefined) result.maxAttempts = section.maxAttempts;
  const { baseDelayMs, maxDelayMs } = section ?? {};
  if (baseDelayMs !== undefined || maxDelayMs !== undefined) {
    result.backoff = backoff.exponential({
      ...(baseDelayMs === undefined ? {} : { initialMs: baseDelayMs }),
      // A base delay above the default cap raises the cap rather than failing.
      ...(maxDelayMs === undefined
        ? baseDelayMs !== undefined && baseDelayMs > EXPONENTIAL_DEFAULTS.maxMs
          ? { maxMs: baseDelayMs }
          : {}
        : { maxMs: maxDelayMs }),
    });
  }
  return result;
}

/**
 * The `breaker` section of {@link optionsFromEnv} as `circuitBreaker()` options:
 * `strategy: consecutive(failureThreshold)` and `halfOpenAfter: resetTimeoutMs`.
 */
export function toBreakerOptions(
  section: EnvOptions['breaker'],
): Pick<CircuitBreakerOptions, 'strategy' | 'halfOpenAfter'> {
  const result: Pick<CircuitBreakerOptions, 'strategy' | 'halfOpenAfter'> = {};
  if (section?.failureThreshold !== undefined) result.strategy = consecutive(section.failureThreshold);
  if (section?.resetTimeoutMs !== undefined) result.halfOpenAfter = section.resetTimeoutMs;
  return result;
}

/** The options a `messages` section sets. */
type MessageOptions = Pick<
  MessageProcessorOptions<unknown>,
  'maxAttempts' | 'retryTtlMs' | 'softTimeoutMs' | 'hardTimeoutMs'
>;

/**
 * The `messages` section of {@link optionsFromEnv} as `messageProcessor()` options. See
 * docs/logging-and-config.md.
 */
export function toMessageProcessorOptions(section: EnvOptions['messages']): MessageOptions {
  const result: MessageOptions = {};
  for (const key of ['maxAttempts', 'retryTtlMs', 'softTimeoutMs', 'hardTimeoutMs'] as const) {
    if (section?.[key] !== undefined) result[key] = section[key];
  }
  return result;
}

/**
 * The `rateLimit` section of {@link optionsFromEnv} as `rateLimiter()` options. See
 * docs/logging-and-config.md.
 */
export function toRateLimiterOptions(
  section: EnvOptions['rateLimit'],
): Partial<Pick<RateLimiterOptions, 'algorithm' | 'maxWaitMs'>> {
  const result: Partial<Pick<RateLimiterOptions, 'algorithm' | 'maxWaitMs'>> = {};
  const rpm = section?.requestsPerMinute;
  if (rpm !== undefined) result.algorithm = tokenBucket({ capacity: rpm, refillPerSecond: rpm / 60 });
  if (section?.maxWaitMs !== undefined) result.maxWaitMs = section.maxWaitMs;
  return result;
}
