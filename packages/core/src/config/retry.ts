import { backoff, EXPONENTIAL_DEFAULTS } from '../retry/backoff.js';
import type { RetryOptions } from '../retry/options.js';
import type { EnvOptions } from './options.js';

/**
 * Turns the `retry` section of {@link optionsFromEnv} into `retry()` options: `maxAttempts`
 * as is, and `backoff.exponential({ initialMs: baseDelayMs, maxMs: maxDelayMs })` when a
 * delay is set (the others keep their defaults). Spread your own options over the result.
 *
 * @example
 * const policy = retry({ ...toRetryOptions(optionsFromEnv().retry), name: 'llm' });
 */
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
