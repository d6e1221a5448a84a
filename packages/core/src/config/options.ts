import { OptionsValidator } from '../errors/validate.js';

/** Environment variables as `process.env` holds them. */
export type Env = Readonly<Record<string, string | undefined>>;

/**
 * Option values read from the environment, as plain data. Only variables that are set
 * appear, and a section only when one of its variables is set. See {@link optionsFromEnv}
 * for how each section maps onto a policy.
 */
export interface EnvOptions {
  retry?: {
    /** `<P>_MAX_RETRIES` + 1: the total number of calls, the first included. */
    maxAttempts?: number;
    /** `<P>_RETRY_BASE_DELAY_MS`: the first backoff delay (`backoff.exponential({ initialMs })`). */
    baseDelayMs?: number;
    /** `<P>_RETRY_MAX_DELAY_MS`: the cap on any backoff delay (`backoff.exponential({ maxMs })`). */
    maxDelayMs?: number;
  };
  breaker?: {
    /** `<P>_BREAKER_FAILURE_THRESHOLD`: consecutive failures that open the circuit (`consecutive(n)`). */
    failureThreshold?: number;
    /** `<P>_BREAKER_RESET_TIMEOUT_MS`: how long the circuit stays open before a probe (`halfOpenAfter`). */
    resetTimeoutMs?: number;
  };
  rateLimit?: {
    /** `<P>_RATE_LIMIT_RPM`: requests per minute (`tokenBucket({ capacity: rpm, refillPerSecond: rpm / 60 })`). */
    requestsPerMinute?: number;
    /** `<P>_RATE_LIMIT_MAX_WAIT_MS`: the longest a call waits for a token (`limiter.wait(key, { maxWaitMs })`). */
    maxWaitMs?: number;
  };
  timeout?: {
    /** `<P>_TIMEOUT_MS`: the time allowed to one call (`timeout(ms)`). */
    ms?: number;
  };
}

type Section = keyof EnvOptions;

/** One variable: its name after the prefix, where its value goes, and its smallest allowed value. */
export interface EnvVariable {
  readonly suffix: string;
  readonly section: Section;
  readonly field: string;
  readonly min: number;
  /** Added to the parsed value (retries → attempts). */
  readonly offset: number;
}

/** Every variable `optionsFromEnv` reads, after `<prefix>_`. All take non-negative integers. */
export const ENV_VARIABLES: readonly EnvVariable[] = [
  { suffix: 'MAX_RETRIES', section: 'retry', field: 'maxAttempts', min: 0, offset: 1 },
  { suffix: 'RETRY_BASE_DELAY_MS', section: 'retry', field: 'baseDelayMs', min: 0, offset: 0 },
  { suffix: 'RETRY_MAX_DELAY_MS', section: 'retry', field: 'maxDelayMs', min: 0, offset: 0 },
  { suffix: 'BREAKER_FAILURE_THRESHOLD', section: 'breaker', field: 'failureThreshold', min: 1, offset: 0 },
  { suffix: 'BREAKER_RESET_TIMEOUT_MS', section: 'breaker', field: 'resetTimeoutMs', min: 1, offset: 0 },
  { suffix: 'RATE_LIMIT_RPM', section: 'rateLimit', field: 'requestsPerMinute', min: 1, offset: 0 },
  { suffix: 'RATE_LIMIT_MAX_WAIT_MS', section: 'rateLimit', field: 'maxWaitMs', min: 0, offset: 0 },
  { suffix: 'TIMEOUT_MS', section: 'timeout', field: 'ms', min: 1, offset: 0 },
];

export const ENV_DEFAULTS = { prefix: 'APP' } as const;

const PREFIX = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function validateEnvArguments(env: unknown, prefix: unknown): void {
  const v = new OptionsValidator('optionsFromEnv');
  v.check(typeof env === 'object' && env !== null, 'env', env, 'an object of strings such as process.env');
  v.check(
    typeof prefix === 'string' && (prefix === '' || PREFIX.test(prefix)),
    'prefix',
    prefix,
    'letters, digits and underscores, not starting with a digit (or "" for none)',
  );
  v.done();
}
