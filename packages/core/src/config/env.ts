import { OptionsValidator } from '../errors/validate.js';
import {
  ENV_DEFAULTS,
  ENV_VARIABLES,
  type Env,
  type EnvOptions,
  type EnvVariable,
  validateEnvArguments,
} from './options.js';

const DIGITS = /^\d+$/;
const DECIMAL = /^\d+(\.\d+)?$/;

/** The value of `text` in the variable's result unit, or `undefined` when it is not allowed. */
function parse(text: string, variable: EnvVariable): number | undefined {
  if (variable.unit === 's') {
    const seconds = DECIMAL.test(text) ? Number(text) : Number.NaN;
    const ms = Math.round(seconds * 1_000);
    return ms >= 1 && Number.isSafeInteger(ms) ? ms : undefined; // 0.0004 s rounds to 0 ms: refused too
  }
  const value = DIGITS.test(text) ? Number(text) : Number.NaN;
  return Number.isSafeInteger(value) && value >= variable.min ? value + variable.offset : undefined;
}

const allowed = (variable: EnvVariable): string =>
  variable.unit === 's' ? 'a number of seconds >= 0.001' : `an integer >= ${variable.min}`;

/** The environment of the running process, read at call time (core never reads it on import). */
function processEnv(): Env {
  return (globalThis as { process?: { env?: Env } }).process?.env ?? {};
}

/**
 * Reads policy options from environment variables named `<prefix>_<NAME>`; every bad value
 * is named in one `ConfigurationError`. See docs/logging-and-config.md.
 *
 * @example
 * const env = optionsFromEnv(process.env, 'LLM');
 * const policy = retry({ ...toRetryOptions(env.retry), name: 'llm' });
 * const breaker = circuitBreaker({ ...toBreakerOptions(env.breaker), name: 'llm' });
 */
export function optionsFromEnv(env: Env = processEnv(), prefix: string = ENV_DEFAULTS.prefix): EnvOptions {
  validateEnvArguments(env, prefix);
  const v = new OptionsValidator('environment');
  const nameOf = (suffix: string) => (prefix === '' ? suffix : `${prefix}_${suffix}`);
  const result: Record<string, Record<string, number>> = {};
  /** Which variable set each `section.field`, to refuse a second name for it. */
  const setBy = new Map<string, string>();
  for (const variable of ENV_VARIABLES) {
    const name = nameOf(variable.suffix);
    const given = env[name];
    const raw = given === undefined ? given : String(given); // an object of numbers, not process.env
    if (raw === undefined || raw.trim() === '') continue;
    const value = parse(raw.trim(), variable);
    v.check(value !== undefined, name, raw, allowed(variable));
    const target = `${variable.section}.${variable.field}`;
    const first = setBy.get(target);
    v.check(first === undefined, name, raw, `unset, since ${first} sets the same option`);
    if (value === undefined || first !== undefined) continue;
    setBy.set(target, name);
    (result[variable.section] ??= {})[variable.field] = value;
  }
  const { retry, messages } = result;
  if (retry?.baseDelayMs !== undefined && retry.maxDelayMs !== undefined && retry.maxDelayMs < retry.baseDelayMs) {
    const base = nameOf('RETRY_BASE_DELAY_MS');
    const max = nameOf('RETRY_MAX_DELAY_MS');
    v.check(false, max, env[max], `an integer >= ${base} (${retry.baseDelayMs})`);
  }
  const { softTimeoutMs, hardTimeoutMs } = messages ?? {};
  if (softTimeoutMs !== undefined && hardTimeoutMs !== undefined && hardTimeoutMs < softTimeoutMs) {
    const soft = nameOf('TASK_SOFT_TIME_LIMIT');
    const hard = nameOf('TASK_HARD_TIME_LIMIT');
    v.check(false, hard, env[hard], `a number >= ${soft} (${env[soft]?.trim()})`);
  }
  v.done();
  return result as EnvOptions;
}
