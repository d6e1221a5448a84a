import { OptionsValidator } from '../errors/validate.js';
import { ENV_DEFAULTS, ENV_VARIABLES, type Env, type EnvOptions, validateEnvArguments } from './options.js';

const DIGITS = /^\d+$/;

/** The environment of the running process, read at call time (core never reads it on import). */
function processEnv(): Env {
  return (globalThis as { process?: { env?: Env } }).process?.env ?? {};
}

/**
 * Reads retry, breaker, rate-limit and timeout options from environment variables named
 * `<prefix>_<NAME>` (see {@link ENV_VARIABLES}). Values are non-negative decimal integers;
 * an empty or blank variable counts as unset. Every bad value is reported in one
 * `ConfigurationError` naming the variable, e.g. `APP_MAX_RETRIES: received "abc",
 * expected an integer >= 0`, so a misconfigured service fails at start-up.
 *
 * `APP_MAX_RETRIES` counts retries, so `retry.maxAttempts` is that number plus one.
 *
 * @example
 * const { retry: r, timeout: t } = optionsFromEnv(process.env, 'LLM');
 * const policy = retry({
 *   maxAttempts: r?.maxAttempts,
 *   backoff: backoff.exponential({ initialMs: r?.baseDelayMs, maxMs: r?.maxDelayMs }),
 * });
 */
export function optionsFromEnv(env: Env = processEnv(), prefix: string = ENV_DEFAULTS.prefix): EnvOptions {
  validateEnvArguments(env, prefix);
  const v = new OptionsValidator('environment');
  const result: Record<string, Record<string, number>> = {};
  for (const variable of ENV_VARIABLES) {
    const name = prefix === '' ? variable.suffix : `${prefix}_${variable.suffix}`;
    const raw = env[name];
    if (raw === undefined || raw.trim() === '') continue;
    const text = raw.trim();
    const value = DIGITS.test(text) ? Number(text) : Number.NaN;
    const ok = Number.isSafeInteger(value) && value >= variable.min;
    v.check(ok, name, raw, `an integer >= ${variable.min}`);
    if (ok) (result[variable.section] ??= {})[variable.field] = value + variable.offset;
  }
  const retry = result.retry;
  if (retry?.baseDelayMs !== undefined && retry.maxDelayMs !== undefined && retry.maxDelayMs < retry.baseDelayMs) {
    const base = prefix === '' ? 'RETRY_BASE_DELAY_MS' : `${prefix}_RETRY_BASE_DELAY_MS`;
    const max = prefix === '' ? 'RETRY_MAX_DELAY_MS' : `${prefix}_RETRY_MAX_DELAY_MS`;
    v.check(false, max, env[max], `an integer >= ${base} (${retry.baseDelayMs})`);
  }
  v.done();
  return result as EnvOptions;
}
