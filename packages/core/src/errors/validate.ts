import { ConfigurationError, isConfigurationError, type OptionIssue } from './errors.js';

// Every option name of `T` as an object's keys: `satisfies OptionNames<X>` keeps a list whole.
export type OptionNames<T> = { readonly [K in keyof T]-?: true };

// Bounds of a number option: at least `min`, at most `max`, above `gt`.
type Range = { min?: number; max?: number; gt?: number };

// An object literal, `Object.create(null)` or a plain object from another realm; not an array, function or class instance.
// A revoked Proxy is none (reading its prototype throws).
export const isPlainObject = (v: unknown): v is Record<string, unknown> => {
  try {
    const proto: unknown = typeof v === 'object' && v !== null ? Object.getPrototypeOf(v) : 0;
    return proto === null || proto === Object.prototype || Object.getPrototypeOf(proto) === null;
  } catch {
    return false;
  }
};

// Collects every bad option of one factory call, then throws one `ConfigurationError`
// that names each (option, received value, what is allowed). Checks skip `undefined`
// unless `required` is used, so defaults can be applied after validation.
//
// @example
// const v = new OptionsValidator('retry');
// v.integer('maxAttempts', options.maxAttempts, { min: 1 });
// v.done(); // throws if anything was reported
export class OptionsValidator {
  readonly #subject: string;
  readonly #issues: OptionIssue[] = [];

  constructor(subject: string) {
    this.#subject = subject;
  }

  // Checks that `value` is an options object (a plain object: not `null`, an array, a
  // function or a class instance) whose every name is one of `names`, so a misspelt
  // option (`maxAttemps`) or another library's call shape fails here instead of being
  // ignored. Returns a copy of `value`'s fields, read once (a getter that throws is an issue
  // of its option), or `{}` when it is `undefined` or not an object, so the checks after it
  // can read its fields. `path` names a nested object: with `'budget'`, issues read `budget`
  // and `budget.ratio`; without it, `options` and `ratio`. `theirs` adds hints as FOREIGN's
  // that only this factory gives (kept out of the bundles of the others).
  known<T extends object>(
    value: T | undefined,
    names: OptionNames<NoInfer<T>>,
    path?: string,
    theirs: Readonly<Record<string, string>> = FOREIGN,
  ): Partial<T> {
    if (value === undefined) return {};
    const list = Object.keys(names);
    let keys: string[] | undefined;
    try {
      if (isPlainObject(value)) keys = Object.keys(value);
    } catch {}
    if (!keys) {
      this.check(false, path ?? 'options', value, `an object with the options ${list.join(', ')}`);
      return {};
    }
    const copy: Record<string, unknown> = Object.create(null);
    let listed = false;
    for (const key of keys) {
      const option = path === undefined ? key : `${path}.${key}`;
      try {
        copy[key] = (value as Record<string, unknown>)[key];
      } catch {
        this.check(false, option, undefined, 'a value that reads without throwing');
        continue;
      }
      // Taken, or already reported (a name the caller sets itself, with its own hint).
      if (Object.hasOwn(names, key) || this.#issues.some((i) => i.option === option)) continue;
      // Another library's name says what it meant: the first of its hints (`|` between them)
      // that starts with an option of ours (`gate~` one that is not the text); else ours that
      // it is near is a likely typo (`limit` → `limits`, `retries` → `retry`).
      const foreign = Object.hasOwn(theirs, key) ? theirs[key] : Object.hasOwn(FOREIGN, key) ? FOREIGN[key] : undefined;
      const near = closest(key, list);
      const alt = foreign?.split('|').find((h) => (names as Record<string, unknown>)[h.split(/\W/)[0]!]);
      const hint = alt
        ? ` (${alt.includes('...') ? '' : "another library's? "}here: ${alt.replace(/^\w+~/, '')})`
        : near
          ? ` (did you mean ${near}?)`
          : '';
      this.check(false, option, copy[key], `a known option${hint}${listed ? '' : `: ${list.join(', ')}`}`);
      listed = true;
    }
    return copy as Partial<T>;
  }

  // Records an issue when `ok` is false.
  check(ok: boolean, option: string, received: unknown, allowed: string): this {
    if (!ok) this.#issues.push({ option, received, allowed });
    return this;
  }

  required(option: string, value: unknown): this {
    return this.check(value !== undefined, option, value, 'a value (the option is required)');
  }

  number(option: string, value: unknown, range: Range = {}): this {
    return this.#inRange(Number.isFinite(value), 'a finite number', option, value, range);
  }

  integer(option: string, value: unknown, range: Omit<Range, 'gt'> = {}): this {
    return this.#inRange(Number.isSafeInteger(value), 'an integer', option, value, range);
  }

  oneOf<T>(option: string, value: unknown, allowed: readonly T[]): this {
    const list = allowed.map((a) => JSON.stringify(a)).join(', ');
    return this.#given(allowed.includes(value as T), option, value, `one of ${list}`);
  }

  function(option: string, value: unknown): this {
    return this.#given(typeof value === 'function', option, value, 'a function');
  }

  // A callback whose answer is used at once (a yes/no, a key, a random draw): an async one
  // answers a promise, read as yes (or no) whatever it holds, as '[object Promise]', or as NaN.
  predicate(option: string, value: unknown): this {
    const ok = typeof value === 'function' && value.constructor.name !== 'AsyncFunction';
    return this.#given(ok, option, value, 'a function, not async');
  }

  boolean(option: string, value: unknown): this {
    return this.#given(typeof value === 'boolean', option, value, 'true or false');
  }

  string(option: string, value: unknown): this {
    return this.#given(typeof value === 'string' && value.length > 0, option, value, 'a non-empty string');
  }

  // An injected `Clock`: an object with `now`, `sleep`, `setTimeout` and `clearTimeout`.
  clock(option: string, value: unknown): this {
    const c = value as Record<string, unknown> | null;
    const ok =
      typeof c === 'object' &&
      c !== null &&
      ['now', 'sleep', 'setTimeout', 'clearTimeout'].every((m) => typeof c[m] === 'function');
    return this.#given(ok, option, value, 'a Clock (now, sleep, setTimeout, clearTimeout)');
  }

  // A pino-style logger: an object with `info`, `warn` and `error` methods.
  logger(option: string, value: unknown): this {
    const l = value as Record<string, unknown> | null | undefined;
    const ok = ['info', 'warn', 'error'].every((m) => typeof l?.[m] === 'function');
    return this.#given(ok, option, value, 'a logger with info, warn and error methods');
  }

  // The typed checks: `undefined` passes (the option is not set), anything else must be `ok`.
  #given(ok: boolean, option: string, value: unknown, allowed: string): this {
    return this.check(value === undefined || ok, option, value, allowed);
  }

  // A number check (`ok` says whether `value` is of the kind) and its range.
  #inRange(ok: boolean, kind: string, option: string, value: unknown, range: Range): this {
    const n = value as number;
    const { min = -Infinity, max = Infinity, gt = -Infinity } = range;
    return this.#given(ok && n >= min && n <= max && n > gt, option, value, describe(kind, range));
  }

  // The issues recorded so far.
  get issues(): readonly OptionIssue[] {
    return this.#issues;
  }

  // Throws the collected issues, if any.
  done(): void {
    if (this.#issues.length > 0) throw new ConfigurationError(this.#subject, this.#issues);
  }
}

/**
 * Option names of the libraries users migrate from (express-rate-limit, koa-ratelimit,
 * rate-limiter-flexible, express-idempotency, p-retry, axios-retry, opossum, cockatiel,
 * terminus, bottleneck, p-limit) with what says the same here, so `rateLimit({ windowMs, limit })`
 * is told of `algorithm`, not of a name that looks like `limit`. Each hint starts with the
 * option it points to, and is given only by a factory that has that option: `rateLimiter({ points })`
 * is told of `algorithm`, `tokenBucket({ points })` of `capacity`. `randomize` and `maxQueue` are
 * here because their near names (`random`, the random source; `maxQueueMs`, a time) mean
 * something else. More in docs/migrating.md.
 */
const LIMIT = 'algorithm: fixedWindow({ limit, windowMs })';
const COUNT = `${LIMIT}|limit|capacity`;
// koa-ratelimit's duration is in ms, rate-limiter-flexible's in seconds.
const SECONDS = "in ms, rate-limiter-flexible's duration in s";
const ENV_RETRY = 'backoff, from ...toRetryOptions(env.retry)';
const ENV_BREAKER = 'strategy and halfOpenAfter, from ...toBreakerOptions(env.breaker)';
// Given to circuitBreaker (the only factory with halfOpenAfter): a policy of its own.
const PIPELINE = 'halfOpenAfter~pipeline(breaker, ';
const WARM_UP = 'strategy: timeWindow({ minimumCalls })|minimumCalls';
// p-retry's and cockatiel's habit: a signal for every call through the policy. Gated by an
// option each policy factory has (retry, breaker, hedge, fallback: handle; timeout: strategy,
// softMs; bulkhead: maxQueueMs; chaos: faultRate; adaptiveThrottle: overloaded).
const SIGNAL = 'per call, execute(fn, signal)';
const FOREIGN: Record<string, string> = {
  signal: `handle~${SIGNAL}|strategy~${SIGNAL}|softMs~${SIGNAL}|maxQueueMs~${SIGNAL}|faultRate~${SIGNAL}|overloaded~${SIGNAL}`,
  windowMs: `${LIMIT}|periodMs`,
  limit: COUNT,
  max: COUNT,
  randomize: 'backoff.exponential({ jitter })|jitter',
  retries: 'maxAttempts = retries + 1',
  maxQueue: 'queue',
  highWater: 'queue',
  maxConcurrent: 'limit',
  concurrency: 'limit',
  errorThresholdPercentage: 'strategy: timeWindow({ failureRate: % / 100 })|failureRate: % / 100',
  volumeThreshold: WARM_UP,
  allowWarmUp: WARM_UP,
  threshold: 'failureRate',
  minimumNumberOfCalls: 'minimumCalls',
  minimumRps: 'minimumCalls, a count: minimumRps * windowMs / 1000',
  rollingCountTimeout: 'strategy: timeWindow({ windowMs })|windowMs',
  rollingCountBuckets: 'strategy: timeWindow({ buckets })|buckets',
  timeout: `${PIPELINE}timeout(ms))`,
  capacity: `${PIPELINE}bulkhead({ limit }))|limit`,
  breaker: 'strategy, e.g. consecutive(5)',
  minTimeout: 'backoff.exponential({ initialMs })|initialMs',
  maxTimeout: 'backoff.exponential({ maxMs })|maxMs',
  maxDelay: 'maxMs',
  exponent: 'multiplier',
  factor: 'backoff.exponential({ multiplier })|multiplier',
  errorFilter: 'handle, with the test inverted',
  points: COUNT,
  maxRetryTime: 'deadlineMs',
  shouldRetry: 'handle',
  onFailedAttempt: 'onRetry (before each retry); policy.onFailure hears the last failure too',
  resetTimeout: 'halfOpenAfter',
  onSignal: 'onShutdown',
  keyGenerator: 'key',
  id: 'key',
  duration: `${LIMIT}: windowMs ${SECONDS}|windowMs ${SECONDS}|periodMs ${SECONDS}|refillPerSecond = points / duration`,
  keyPrefix: 'prefix',
  insuranceLimiter: 'onStoreError: memoryStore()',
  inMemoryBlockOnConsumed: 'denialCache',
  blockDuration: 'algorithm~none',
  driver: 'store',
  db: 'store',
  dataAdapter: 'store',
  passOnStoreError: 'onStoreError',
  identifier: 'name',
  idempotencyKeyHeader: 'header',
  processingTimeout: 'lockTimeoutMs',
  responseValidator: 'recordServerErrors',
  // optionsFromEnv()'s sections, given to a factory as they are
  baseDelayMs: ENV_RETRY,
  maxDelayMs: ENV_RETRY,
  failureThreshold: ENV_BREAKER,
  resetTimeoutMs: ENV_BREAKER,
  requestsPerMinute: 'algorithm, from ...toRateLimiterOptions(env.rateLimit)',
};

/**
 * The name in `names` a misspelt `key` most likely meant, ignoring case, underscores and a
 * trailing `Ms`: the nearest within two edits (one for short names), or one sharing all but
 * two letters of the shorter name's start (`queueSize` → `queue`, `compensation` →
 * `compensate`); `undefined` when none is close. A name the key starts like (all but one
 * letter of the shorter) wins over a nearer one: `retries` (another library's name) means
 * `retry`, not `metrics`, two edits away.
 */
function closest(key: string, names: readonly string[]): string | undefined {
  const norm = (s: string) => s.toLowerCase().replace(/_/g, '').replace(/ms$/, '');
  const k = norm(key);
  let best: string | undefined;
  let bestScore = Infinity;
  for (const name of names) {
    const n = norm(name);
    const d = distance(k, n);
    const shared = sharedPrefix(k, n);
    const shorter = Math.min(k.length, n.length);
    const near = d <= (k.length > 4 ? 2 : 1) || shared >= Math.max(4, shorter - 2);
    // Any distance fits below 1 000: a name the key starts like ranks before every other.
    const score = shared >= Math.max(4, shorter - 1) ? d : 1_000 + d;
    if (near && score < bestScore) {
      best = name;
      bestScore = score;
    }
  }
  return best;
}

const sharedPrefix = (a: string, b: string): number => {
  let i = 0;
  while (i < a.length && a[i] === b[i]) i++;
  return i;
};

/** Levenshtein distance (insertions, deletions and substitutions), in one row of memory. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = Math.min(above + 1, row[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length]!;
}

function describe(kind: string, range: Range): string {
  const parts = [kind];
  if (range.gt !== undefined) parts.push(`> ${range.gt}`);
  if (range.min !== undefined) parts.push(`>= ${range.min}`);
  if (range.max !== undefined) parts.push(`<= ${range.max}`);
  return parts.join(' ');
}

// Reports a `signal` in `options` or in one of its `sections` (p-retry's habit: one for every
// call) with `allowed`, which says where the caller's API takes one: core's own hint,
// `execute(fn, signal)`, is no method of a client or a link. Run before the checks of those
// options, which then pass over it. Getters are not called. A function, as `checkNested` is.
export function refuseSignal(v: OptionsValidator, options: unknown, allowed: string, ...sections: string[]): void {
  const own = (at: unknown, name: string) =>
    isPlainObject(at) ? Object.getOwnPropertyDescriptor(at, name) : undefined;
  try {
    for (const section of ['', ...sections]) {
      const given = own(section ? own(options, section)?.value : options, 'signal');
      if (given) v.check(false, section ? `${section}.signal` : 'signal', given.value, allowed);
    }
  } catch {}
}

// Runs `build`, a factory given options `v` checks part of, and records its
// `ConfigurationError`'s issues as `v`'s: under `path` when they are one option of it
// (`retry` → `retry.maxAttempts`, its whole-options issue → `retry`), or under the name the
// user wrote as `rename` maps it (`{ 'adaptive.maxLimit': 'maxConcurrent' }`). An option is
// reported once: `build` does not run when an option it is handed (`handed`) is already bad,
// and an issue of an option already reported is dropped. Returns what `build` built, or
// `undefined` when it refused or did not run; other errors are thrown. A function, not a
// method, so a bundle that never nests leaves it out.
export function checkNested<T>(
  v: OptionsValidator,
  path: string | undefined,
  build: () => T,
  handed: readonly string[] = [],
  rename: Readonly<Record<string, string>> = {},
): T | undefined {
  const bad = new Set(v.issues.map((i) => i.option));
  if (handed.some((option) => bad.has(option))) return undefined;
  try {
    return build();
  } catch (error) {
    if (!isConfigurationError(error)) throw error;
    for (const i of error.issues) {
      const nested = path === undefined ? i.option : i.option === 'options' ? path : `${path}.${i.option}`;
      const option = rename[nested] ?? nested;
      if (!bad.has(option)) v.check(false, option, i.received, i.allowed);
    }
    return undefined;
  }
}
