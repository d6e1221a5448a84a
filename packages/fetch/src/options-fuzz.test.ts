// withResilience(fetch, options) fed hostile options: each must be refused at construction with
// a ConfigurationError naming the option (docs/README.md, "Bad input fails loudly"), as core's
// resilientClient refuses them (its every option is fuzzed in core's options-fuzz test).
import { retry } from '@resilience/core';
import { describe, expect, it } from 'vitest';
import { expectRefused, named } from '../../../test-kit/refusal.js';
import { FETCH_DEFAULTS, withResilience } from './index.js';

// biome-ignore lint/suspicious/noExplicitAny: feeding the adapter what its types forbid is the point.
type Any = any;

/** A fetch that answers 200 at once. */
const ok = async () => new Response('ok');

const refusedAs = (options: unknown, option: string) =>
  expectRefused(() => withResilience(ok, options as Any), option, String(options), 'withResilience');

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
    expect(withResilience(ok, Object.assign(Object.create(null), { timeout: 100 })).client).toBeDefined();
    expect(withResilience(ok, Object.freeze({ timeout: 100, retry: Object.freeze({ maxAttempts: 2 }) }))).toBeDefined();
  });
});

describe("the client options are core resilientClient's (fuzzed in core), reported as withResilience's", () => {
  it("by their path, misspelt or another library's names included", () => {
    refusedAs({ maxHosts: 0 }, 'maxHosts');
    refusedAs({ retry: { budget: { ratio: -1 } } }, 'retry.budget.ratio');
    refusedAs({ breaker: [] }, 'breaker');
    refusedAs({ retries: 3 }, 'retries');
  });

  it('the fetch argument, beside the options, in one error', () => {
    for (const fetchFn of [5, 'fetch', {}, null]) {
      expect(named(() => withResilience(fetchFn as Any, { maxHosts: 0 }))).toEqual(['fetch', 'maxHosts']);
    }
  });
});

describe('what is given is what is used', () => {
  it('name: undefined (a config value not set) keeps the default name', () => {
    expect(withResilience(ok, { name: undefined } as Any).client.name).toBe(FETCH_DEFAULTS.name);
    expect(withResilience(ok, { name: 'api' }).client.name).toBe('api');
  });

  it('never writes to the options', () => {
    const options = { retry: { maxAttempts: 2 }, breaker: {}, timeout: 100 };
    const copy = structuredClone(options);
    withResilience(ok, options);
    expect(options).toEqual(copy);
  });
});
