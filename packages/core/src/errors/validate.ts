import { ConfigurationError, type OptionIssue } from './errors.js';

const isFiniteNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/**
 * Collects every bad option of one factory call, then throws one `ConfigurationError`
 * that names each (option, received value, what is allowed). Checks skip `undefined`
 * unless `required` is used, so defaults can be applied after validation.
 *
 * @example
 * const v = new OptionsValidator('retry');
 * v.integer('maxAttempts', options.maxAttempts, { min: 1 });
 * v.done(); // throws if anything was reported
 */
export class OptionsValidator {
  readonly #subject: string;
  readonly #issues: OptionIssue[] = [];

  constructor(subject: string) {
    this.#subject = subject;
  }

  /** Records an issue when `ok` is false. */
  check(ok: boolean, option: string, received: unknown, allowed: string): this {
    if (!ok) this.#issues.push({ option, received, allowed });
    return this;
  }

  required(option: string, value: unknown): this {
    return this.check(value !== undefined, option, value, 'a value (the option is required)');
  }

  number(option: string, value: unknown, range: { min?: number; max?: number; gt?: number } = {}): this {
    if (value === undefined) return this;
    const { min, max, gt } = range;
    const ok =
      isFiniteNumber(value) &&
      (min === undefined || value >= min) &&
      (max === undefined || value <= max) &&
      (gt === undefined || value > gt);
    return this.check(ok, option, value, describe('a finite number', range));
  }

  integer(option: string, value: unknown, range: { min?: number; max?: number } = {}): this {
    if (value === undefined) return this;
    const { min, max } = range;
    const ok =
      Number.isSafeInteger(value) &&
      (min === undefined || (value as number) >= min) &&
      (max === undefined || (value as number) <= max);
    return this.check(ok, option, value, describe('an integer', range));
  }

  oneOf<T>(option: string, value: unknown, allowed: readonly T[]): this {
    if (value === undefined) return this;
    return this.check(
      allowed.includes(value as T),
      option,
      value,
      `one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}`,
    );
  }

  function(option: string, value: unknown): this {
    if (value === undefined) return this;
    return this.check(typeof value === 'function', option, value, 'a function');
  }

  boolean(option: string, value: unknown): this {
    if (value === undefined) return this;
    return this.check(typeof value === 'boolean', option, value, 'true or false');
  }

  string(option: string, value: unknown): this {
    if (value === undefined) return this;
    return this.check(typeof value === 'string' && value.length > 0, option, value, 'a non-empty string');
  }

  /** An injected `Clock`: an object with `now`, `sleep`, `setTimeout` and `clearTimeout`. */
  clock(option: string, value: unknown): this {
    if (value === undefined) return this;
    const c = value as Record<string, unknown> | null;
    const ok =
      typeof c === 'object' &&
      c !== null &&
      ['now', 'sleep', 'setTimeout', 'clearTimeout'].every((m) => typeof c[m] === 'function');
    return this.check(ok, option, value, 'a Clock (now, sleep, setTimeout, clearTimeout)');
  }

  /** Throws the collected issues, if any. */
  done(): void {
    if (this.#issues.length > 0) throw new ConfigurationError(this.#subject, this.#issues);
  }
}

function describe(kind: string, range: { min?: number; max?: number; gt?: number }): string {
  const parts = [kind];
  if (range.gt !== undefined) parts.push(`> ${range.gt}`);
  if (range.min !== undefined) parts.push(`>= ${range.min}`);
  if (range.max !== undefined) parts.push(`<= ${range.max}`);
  return parts.join(' ');
}
