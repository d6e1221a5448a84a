import { OptionsValidator } from '../errors/validate.js';

/** Environment variables as `process.env` holds them. */
export type Env = Readonly<Record<string, string | undefined>>;

/**
 * Option values read from the environment, as plain data: only the variables that are set, and the
 * sections that have one.
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
    /**
     * `<P>_BREAKER_FAILURE_THRESHOLD`, or the seeds' `<P>_CIRCUIT_BREAKER_FAIL_MAX`:
     * consecutive failures that open the circuit (`consecutive(n)`).
     */
    failureThreshold?: number;
    /**
     * `<P>_BREAKER_RESET_TIMEOUT_MS`, or the seeds' `<P>_CIRCUIT_BREAKER_RESET_TIMEOUT` in
     * seconds: how long the circuit stays open before a probe (`halfOpenAfter`), in ms.
     */
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
  /** The seeds' retry tracker and task limits, for `messageProcessor` (see `toMessageProcessorOptions`). */
  messages?: {
    /** `<P>_RETRY_TRACKER_MAX_RETRIES` + 1: deliveries of one message, the first included. */
    maxAttempts?: number;
    /** `<P>_RETRY_TRACKER_TTL` (seconds) in ms: how long a message's attempt counter is kept. */
    retryTtlMs?: number;
    /** `<P>_TASK_SOFT_TIME_LIMIT` (seconds) in ms: when the handler's signal aborts. */
    softTimeoutMs?: number;
    /** `<P>_TASK_HARD_TIME_LIMIT` (seconds) in ms: when the attempt fails whatever the handler does. */
    hardTimeoutMs?: number;
  };
}

type Section = keyof EnvOptions;

/**
 * What a variable's value counts: `'s'` decimal seconds above 0 (turned into whole ms), every other
 * unit a decimal integer >= 0.
 */
export type EnvUnit = 'count' | 'ms' | 's' | 'requests per minute';

/** One variable: its name after the prefix, its unit, where its value goes, and its smallest allowed value. */
export interface EnvVariable {
  readonly suffix: string;
  readonly unit: EnvUnit;
  readonly section: Section;
  readonly field: string;
  /** The smallest integer allowed (a seconds value must be above 0). */
  readonly min: number;
  /** Added to the parsed value (retries → attempts). */
  readonly offset: number;
}

/** Every variable `optionsFromEnv` reads, after `<prefix>_`, in the order issues are reported. */
export const ENV_VARIABLES: readonly EnvVariable[] = [
  { suffix: 'MAX_RETRIES', unit: 'count', section: 'retry', field: 'maxAttempts', min: 0, offset: 1 },
  { suffix: 'RETRY_BASE_DELAY_MS', unit: 'ms', section: 'retry', field: 'baseDelayMs', min: 0, offset: 0 },
  { suffix: 'RETRY_MAX_DELAY_MS', unit: 'ms', section: 'retry', field: 'maxDelayMs', min: 0, offset: 0 },
  {
    suffix: 'BREAKER_FAILURE_THRESHOLD',
    unit: 'count',
    section: 'breaker',
    field: 'failureThreshold',
    min: 1,
    offset: 0,
  },
  { suffix: 'BREAKER_RESET_TIMEOUT_MS', unit: 'ms', section: 'breaker', field: 'resetTimeoutMs', min: 1, offset: 0 },
  {
    suffix: 'RATE_LIMIT_RPM',
    unit: 'requests per minute',
    section: 'rateLimit',
    field: 'requestsPerMinute',
    min: 1,
    offset: 0,
  },
  { suffix: 'RATE_LIMIT_MAX_WAIT_MS', unit: 'ms', section: 'rateLimit', field: 'maxWaitMs', min: 0, offset: 0 },
  { suffix: 'TIMEOUT_MS', unit: 'ms', section: 'timeout', field: 'ms', min: 1, offset: 0 },
  // The seeds' own names (Aura): the retry tracker, pybreaker and Celery settings.
  {
    suffix: 'RETRY_TRACKER_MAX_RETRIES',
    unit: 'count',
    section: 'messages',
    field: 'maxAttempts',
    min: 0,
    offset: 1,
  },
  { suffix: 'RETRY_TRACKER_TTL', unit: 's', section: 'messages', field: 'retryTtlMs', min: 0, offset: 0 },
  {
    suffix: 'CIRCUIT_BREAKER_FAIL_MAX',
    unit: 'count',
    section: 'breaker',
    field: 'failureThreshold',
    min: 1,
    offset: 0,
  },
  {
    suffix: 'CIRCUIT_BREAKER_RESET_TIMEOUT',
    unit: 's',
    section: 'breaker',
    field: 'resetTimeoutMs',
    min: 0,
    offset: 0,
  },
  { suffix: 'TASK_SOFT_TIME_LIMIT', unit: 's', section: 'messages', field: 'softTimeoutMs', min: 0, offset: 0 },
  { suffix: 'TASK_HARD_TIME_LIMIT', unit: 's', section: 'messages', field: 'hardTimeoutMs', min: 0, offset: 0 },
];

export const ENV_DEFAULTS = { prefix: 'APP' } as const;

const PREFIX = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function validateEnvArguments(env: unknown, prefix: unknown): void {
  const v = new OptionsValidator('optionsFromEnv');
  v.check(typeof env === 'object' && env !== null, 'env', env, 'an object of strings such as process.env');
  v.check(
    typeof prefix === 'string' && (prefix === '' || (PREFIX.test(prefix) && !prefix.endsWith('_'))),
    'prefix',
    prefix,
    'letters, digits and underscores, not starting with a digit, not ending with _ (added before each name), or "" for none',
  );
  v.done();
}
