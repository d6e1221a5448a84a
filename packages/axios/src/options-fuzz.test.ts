// withResilience(axios instance, options) fed hostile options: each must be refused at construction with
// a ConfigurationError naming the option (docs/README.md, "Bad input fails loudly"), as core's
// resilientClient refuses them; durations past 2^31 − 1 ms (Node fires such a timer after
// 1 ms) must not fire early. Defects of core are `it.fails`, named.
import { isConfigurationError, retry } from '@resilience/core';
import axios, { type AxiosAdapter } from 'axios';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AXIOS_DEFAULTS, withResilience } from './index.js';

// biome-ignore lint/suspicious/noExplicitAny: feeding the adapter what its types forbid is the point.
type Any = any;

/** An instance whose adapter answers 200 at once, or never (following the signal it is given). */
const ok = () =>
  axios.create({ adapter: async (config) => ({ data: 'ok', status: 200, statusText: 'OK', headers: {}, config }) });
const never: AxiosAdapter = (config) =>
  new Promise((_, reject) =>
    (config.signal as AbortSignal | undefined)?.addEventListener('abort', () => reject(new Error('aborted'))),
  );

/** The options a `withResilience` ConfigurationError names, or 'accepted'; anything else thrown is rethrown. */
function named(build: () => unknown): readonly string[] | 'accepted' {
  try {
    build();
  } catch (error) {
    if (!isConfigurationError(error)) throw error;
    expect(error.message).toMatch(/^Invalid withResilience options: /);
    return error.issues.map((i) => i.option);
  }
  return 'accepted';
}

const refusedAs = (options: unknown, option: string) => {
  const issues = named(() => withResilience(ok(), options as Any));
  expect(issues === 'accepted' ? issues : issues.some((o) => o === option || o.startsWith(`${option}.`))).toBe(true);
};

class Settings {
  readonly timeout = 1_000;
}

describe('options that are no plain object are refused, naming options', () => {
  it.each<[string, () => unknown]>([
    ['an array', () => []],
    ['an array of options', () => [{ timeout: 100 }]],
    ['a Map', () => new Map([['timeout', 100]])],
    ['a Date', () => new Date()],
    ['a class instance (its fields read as options elsewhere)', () => new Settings()],
    ['a retry policy (a cockatiel-style call)', () => retry()],
    ['an object whose options are inherited (the spread dropped them)', () => Object.create({ timeout: 100 })],
    ['null', () => null],
    ['a string', () => 'fast'],
  ])('%s', (_, options) => {
    refusedAs(options(), 'options');
  });

  it('takes a null-prototype object and a frozen one', () => {
    expect(withResilience(ok(), Object.assign(Object.create(null), { timeout: 100 })).client).toBeDefined();
    expect(
      withResilience(ok(), Object.freeze({ timeout: 100, retry: Object.freeze({ maxAttempts: 2 }) })),
    ).toBeDefined();
  });
});

describe('each option refuses hostile values, naming it', () => {
  const NUMBERS: unknown[] = [Number.NaN, Number.POSITIVE_INFINITY, -1, '100', 5n, {}, [], null, () => 100, true];
  it.each<[string, unknown[]]>([
    ['timeout', NUMBERS.filter((v) => typeof v !== 'object' || v === null || Array.isArray(v))],
    ['deadlineMs', [...NUMBERS, 0]],
    ['maxHosts', [...NUMBERS, 0, 0.5]],
    ['idempotent', [5, 'yes', {}, null, true]],
    ['idempotencyKey', [1, 'true', {}, null]],
    ['key', [5, 'host', {}, null]],
    ['name', [5, '', {}, null, true]],
    ['clock', [{}, 5, null, { now: () => 0 }]],
    ['random', [0.5, 'x', {}, null]],
    ['retry', [5, 'x', null, true, [1]]],
    ['breaker', [5, 'x', null, true, [1]]],
    ['rateLimit', [5, 'x', null, true]],
    ['throttle', [5, 'x', null]],
    ['metrics', [5, 'x', null]],
  ])('%s', (option, values) => {
    for (const value of values) refusedAs({ [option]: value }, option);
  });

  it('nested options by their path', () => {
    refusedAs({ retry: { maxAtempts: 3 } }, 'retry.maxAtempts');
    refusedAs({ retry: { budget: { ratio: -1 } } }, 'retry.budget.ratio');
    refusedAs({ breaker: { halfOpenAfter: Number.NaN } }, 'breaker.halfOpenAfter');
    refusedAs({ timeout: { ms: 100, strategy: 'polite' } }, 'timeout.strategy');
    refusedAs({ rateLimit: { requestsPerMinute: -1 } }, 'rateLimit.requestsPerMinute');
    refusedAs({ throttle: { k: 'two' } }, 'throttle.k');
  });

  it.each(['timeOut', 'deadLineMs', 'maxHost', 'retries', 'breakers', 'rateLimits', 'windowMs'])(
    'a misspelt or foreign name (%s)',
    (option) => {
      refusedAs({ [option]: 1 }, option);
    },
  );

  it('the instance argument, beside the options, in one error', () => {
    for (const instance of [5, 'axios', {}, null, () => {}]) {
      expect(named(() => withResilience(instance as Any, { maxHosts: 0 }))).toEqual(['instance', 'maxHosts']);
    }
  });

  // Core's resilientClient checks its nested options with `typeof === 'object'`.
  it('retry: [] and breaker: [] are refused (taken as options before, a breaker with the defaults)', () => {
    refusedAs({ retry: [] }, 'retry');
    refusedAs({ breaker: [] }, 'breaker');
  });
});

describe('what is given is what is used', () => {
  it('name: undefined (a config value not set) keeps the default name', () => {
    expect(withResilience(ok(), { name: undefined } as Any).client.name).toBe(AXIOS_DEFAULTS.name);
    expect(withResilience(ok(), { name: 'api' }).client.name).toBe('api');
  });

  it('never writes to the options', () => {
    const options = { retry: { maxAttempts: 2 }, breaker: {}, timeout: 100 };
    const copy = structuredClone(options);
    withResilience(ok(), options);
    expect(options).toEqual(copy);
  });
});

describe('durations past 2^31 − 1 ms do not fire early', () => {
  const LONG = 2 ** 31 + 1_000;
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it.each<[string, object]>([
    ['timeout', { timeout: LONG }],
    ['timeout { ms }', { timeout: { ms: LONG } }],
    ['deadlineMs', { deadlineMs: LONG }],
  ])('%s', async (_, options) => {
    const pending = withResilience(axios.create({ adapter: never }), { retry: false, ...options }).get(
      'https://x.test/',
    );
    let settled = false;
    pending.then(
      () => (settled = true),
      () => (settled = true),
    );
    for (let i = 0; i < 20; i++) await vi.advanceTimersByTimeAsync(1);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(settled).toBe(false);
  });
});
