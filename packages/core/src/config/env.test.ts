import { afterEach, describe, expect, it, vi } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
import { isConfigurationError } from '../errors/errors.js';
import { retry } from '../retry/retry.js';
import { toRetryOptions } from './consumers.js';
import { optionsFromEnv } from './env.js';
import { ENV_DEFAULTS, ENV_VARIABLES } from './options.js';

const issuesOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    if (isConfigurationError(error)) return { message: error.message, issues: error.issues };
    throw error;
  }
  throw new Error('expected a ConfigurationError');
};

describe('optionsFromEnv', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('pins its prefix and the variables it reads', () => {
    expect(ENV_DEFAULTS).toEqual({ prefix: 'APP' });
    expect(ENV_VARIABLES.map((v) => v.suffix)).toEqual([
      'MAX_RETRIES',
      'RETRY_BASE_DELAY_MS',
      'RETRY_MAX_DELAY_MS',
      'BREAKER_FAILURE_THRESHOLD',
      'BREAKER_RESET_TIMEOUT_MS',
      'RATE_LIMIT_RPM',
      'RATE_LIMIT_MAX_WAIT_MS',
      'TIMEOUT_MS',
      'RETRY_TRACKER_MAX_RETRIES',
      'RETRY_TRACKER_TTL',
      'CIRCUIT_BREAKER_FAIL_MAX',
      'CIRCUIT_BREAKER_RESET_TIMEOUT',
      'TASK_SOFT_TIME_LIMIT',
      'TASK_HARD_TIME_LIMIT',
    ]);
    expect(ENV_VARIABLES.map((v) => v.unit)).toEqual([
      'count',
      'ms',
      'ms',
      'count',
      'ms',
      'requests per minute',
      'ms',
      'ms',
      'count',
      's',
      'count',
      's',
      's',
      's',
    ]);
  });

  it('reads the seeds’ variables: the retry tracker, the breaker in seconds and the task time limits', () => {
    const env = {
      RETRY_TRACKER_MAX_RETRIES: '4',
      RETRY_TRACKER_TTL: '3600',
      CIRCUIT_BREAKER_FAIL_MAX: '5',
      CIRCUIT_BREAKER_RESET_TIMEOUT: '60',
      TASK_SOFT_TIME_LIMIT: '300',
      TASK_HARD_TIME_LIMIT: '330.5',
    };
    expect(optionsFromEnv(env, '')).toEqual({
      messages: { maxAttempts: 5, retryTtlMs: 3_600_000, softTimeoutMs: 300_000, hardTimeoutMs: 330_500 },
      breaker: { failureThreshold: 5, resetTimeoutMs: 60_000 },
    });
    // Under a prefix like every other variable.
    expect(optionsFromEnv({ APP_TASK_SOFT_TIME_LIMIT: '0.25' })).toEqual({ messages: { softTimeoutMs: 250 } });
  });

  it('reads an object of numbers as their text, and names the variable of a value that is none', () => {
    expect(optionsFromEnv({ APP_TIMEOUT_MS: 5_000 } as never).timeout).toEqual({ ms: 5_000 });
    expect(() => optionsFromEnv({ APP_TIMEOUT_MS: null } as never)).toThrow(/APP_TIMEOUT_MS: received "null"/);
  });

  it('names the variable and its unit when a seconds value is bad', () => {
    const { issues } = issuesOf(() =>
      optionsFromEnv(
        {
          RETRY_TRACKER_TTL: '0',
          CIRCUIT_BREAKER_RESET_TIMEOUT: '1m',
          TASK_SOFT_TIME_LIMIT: '-5',
          TASK_HARD_TIME_LIMIT: '0.0004', // rounds to 0 ms
        },
        '',
      ),
    );
    const allowed = 'a number of seconds >= 0.001';
    expect(issues).toEqual([
      { option: 'RETRY_TRACKER_TTL', received: '0', allowed },
      { option: 'CIRCUIT_BREAKER_RESET_TIMEOUT', received: '1m', allowed },
      { option: 'TASK_SOFT_TIME_LIMIT', received: '-5', allowed },
      { option: 'TASK_HARD_TIME_LIMIT', received: '0.0004', allowed },
    ]);
    expect(optionsFromEnv({ TASK_SOFT_TIME_LIMIT: '0.0006' }, '')).toEqual({ messages: { softTimeoutMs: 1 } });
  });

  it('rejects a hard time limit below the soft one, and one setting given twice under two names', () => {
    const { issues } = issuesOf(() =>
      optionsFromEnv({
        APP_TASK_SOFT_TIME_LIMIT: '60',
        APP_TASK_HARD_TIME_LIMIT: '30',
        APP_BREAKER_FAILURE_THRESHOLD: '5',
        APP_CIRCUIT_BREAKER_FAIL_MAX: '5',
        APP_BREAKER_RESET_TIMEOUT_MS: '30000',
        APP_CIRCUIT_BREAKER_RESET_TIMEOUT: '30',
      }),
    );
    expect(issues).toEqual([
      {
        option: 'APP_CIRCUIT_BREAKER_FAIL_MAX',
        received: '5',
        allowed: 'unset, since APP_BREAKER_FAILURE_THRESHOLD sets the same option',
      },
      {
        option: 'APP_CIRCUIT_BREAKER_RESET_TIMEOUT',
        received: '30',
        allowed: 'unset, since APP_BREAKER_RESET_TIMEOUT_MS sets the same option',
      },
      { option: 'APP_TASK_HARD_TIME_LIMIT', received: '30', allowed: 'a number >= APP_TASK_SOFT_TIME_LIMIT (60)' },
    ]);
  });

  it('reads every section, turning retries into total attempts', () => {
    const env = {
      APP_MAX_RETRIES: '3',
      APP_RETRY_BASE_DELAY_MS: '200',
      APP_RETRY_MAX_DELAY_MS: '10000',
      APP_BREAKER_FAILURE_THRESHOLD: '5',
      APP_BREAKER_RESET_TIMEOUT_MS: '30000',
      APP_RATE_LIMIT_RPM: '60',
      APP_RATE_LIMIT_MAX_WAIT_MS: '0',
      APP_TIMEOUT_MS: '2500',
    };
    expect(optionsFromEnv(env)).toEqual({
      retry: { maxAttempts: 4, baseDelayMs: 200, maxDelayMs: 10_000 },
      breaker: { failureThreshold: 5, resetTimeoutMs: 30_000 },
      rateLimit: { requestsPerMinute: 60, maxWaitMs: 0 },
      timeout: { ms: 2_500 },
    });
  });

  it('includes only the variables that are set, treating blank ones as unset', () => {
    expect(optionsFromEnv({ APP_TIMEOUT_MS: ' 750 ', APP_MAX_RETRIES: '', APP_RATE_LIMIT_RPM: '  ' })).toEqual({
      timeout: { ms: 750 },
    });
    expect(optionsFromEnv({})).toEqual({});
  });

  it('uses the prefix given, or none', () => {
    const env = { LLM_MAX_RETRIES: '0', APP_MAX_RETRIES: '9', MAX_RETRIES: '1' };
    expect(optionsFromEnv(env, 'LLM')).toEqual({ retry: { maxAttempts: 1 } });
    expect(optionsFromEnv(env, '')).toEqual({ retry: { maxAttempts: 2 } });
  });

  it('names the variable, the value and what is allowed', () => {
    const { message } = issuesOf(() => optionsFromEnv({ APP_MAX_RETRIES: 'abc' }));
    expect(message).toBe('Invalid environment options: APP_MAX_RETRIES: received "abc", expected an integer >= 0');
  });

  it('reports every bad variable at once', () => {
    const { issues } = issuesOf(() =>
      optionsFromEnv({
        APP_MAX_RETRIES: '-1',
        APP_RETRY_BASE_DELAY_MS: '1.5',
        APP_BREAKER_FAILURE_THRESHOLD: '0',
        APP_RATE_LIMIT_RPM: '1e3',
        APP_TIMEOUT_MS: '99999999999999999999',
        APP_BREAKER_RESET_TIMEOUT_MS: '30000',
      }),
    );
    expect(issues).toEqual([
      { option: 'APP_MAX_RETRIES', received: '-1', allowed: 'an integer >= 0' },
      { option: 'APP_RETRY_BASE_DELAY_MS', received: '1.5', allowed: 'an integer >= 0' },
      { option: 'APP_BREAKER_FAILURE_THRESHOLD', received: '0', allowed: 'an integer >= 1' },
      { option: 'APP_RATE_LIMIT_RPM', received: '1e3', allowed: 'an integer >= 1' },
      { option: 'APP_TIMEOUT_MS', received: '99999999999999999999', allowed: 'an integer >= 1' },
    ]);
  });

  it('rejects a maximum retry delay below the base delay', () => {
    const { issues } = issuesOf(() =>
      optionsFromEnv({ X_RETRY_BASE_DELAY_MS: '500', X_RETRY_MAX_DELAY_MS: '100' }, 'X'),
    );
    expect(issues).toEqual([
      { option: 'X_RETRY_MAX_DELAY_MS', received: '100', allowed: 'an integer >= X_RETRY_BASE_DELAY_MS (500)' },
    ]);
  });

  it('rejects a bad prefix or env', () => {
    expect(() => optionsFromEnv({}, 'bad-prefix')).toThrow(/prefix/);
    // The `_` before each name is added: 'APP_' would look for APP__MAX_RETRIES and read nothing.
    expect(() => optionsFromEnv({ APP_MAX_RETRIES: '3' }, 'APP_')).toThrow(
      /prefix: received "APP_".*not ending with _/,
    );
    expect(() => optionsFromEnv(null as never)).toThrow(/env/);
  });

  it('reads process.env when called without an env, at call time', () => {
    vi.stubEnv('APP_TIMEOUT_MS', '1234');
    expect(optionsFromEnv()).toMatchObject({ timeout: { ms: 1_234 } });
    vi.stubEnv('APP_TIMEOUT_MS', '4321');
    expect(optionsFromEnv().timeout).toEqual({ ms: 4_321 });
  });

  it('builds a retry policy whose call count is MAX_RETRIES + 1', async () => {
    const clock = new FakeClock();
    const { retry: r } = optionsFromEnv({
      APP_MAX_RETRIES: '2',
      APP_RETRY_BASE_DELAY_MS: '10',
      APP_RETRY_MAX_DELAY_MS: '40',
    });
    const policy = retry({ ...toRetryOptions(r), handle: () => true, clock, random: () => 1 });
    let calls = 0;
    const call = policy
      .execute(() => {
        calls++;
        throw new Error('down');
      })
      .catch(() => undefined);
    await clock.runAll();
    await call;
    expect(calls).toBe(3);
  });

  it('maps the retry section onto retry() options, leaving unset ones to the defaults', () => {
    expect(toRetryOptions(undefined)).toEqual({});
    expect(toRetryOptions({ maxAttempts: 2 })).toEqual({ maxAttempts: 2 });
    const { backoff } = toRetryOptions({ baseDelayMs: 300, maxDelayMs: 1_000 });
    const full = () => 0.999_999;
    expect(backoff?.delay(1, 0, full)).toBeCloseTo(300, 0);
    expect(backoff?.delay(3, 0, full)).toBeCloseTo(1_000, 0);
    expect(() => toRetryOptions({ baseDelayMs: 500, maxDelayMs: 100 })).toThrow(/maxMs/);
    expect(toRetryOptions({ baseDelayMs: 8_000 }).backoff?.delay(2, 0, full)).toBe(8_000);
    expect(toRetryOptions({ baseDelayMs: 200 }).backoff?.delay(10, 0, full)).toBe(5_000);
  });
});
