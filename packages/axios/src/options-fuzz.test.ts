import axios, { type AxiosAdapter } from 'axios';
import { describe, expect, it } from 'vitest';
import { LONG, settled, soon, withFakeTimers } from '../../../test-kit/long-timers.js';
import { expectRefused, named } from '../../../test-kit/refusal.js';
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

const refusedAs = (options: unknown, option: string) =>
  expectRefused(() => withResilience(ok(), options as Any), option, String(options), 'withResilience');

describe('options that are no plain object are refused, naming options', () => {
  it('an array, a Map, a class instance (the full table is in the fetch adapter test: the same check)', () => {
    for (const options of [[{ timeout: 100 }], new Map([['timeout', 100]]), new Date()]) refusedAs(options, 'options');
  });

  it('takes a null-prototype object and a frozen one', () => {
    expect(withResilience(ok(), Object.assign(Object.create(null), { timeout: 100 })).client).toBeDefined();
    expect(
      withResilience(ok(), Object.freeze({ timeout: 100, retry: Object.freeze({ maxAttempts: 2 }) })),
    ).toBeDefined();
  });
});

describe("the client options are core resilientClient's (fuzzed in core), reported as withResilience's", () => {
  it('by their path (other cases than the fetch adapter test: the same client underneath)', () => {
    refusedAs({ timeout: { ms: 100, strategy: 'polite' } }, 'timeout.strategy');
    refusedAs({ throttle: { k: 'two' } }, 'throttle.k');
    refusedAs({ metrics: new Map() }, 'metrics');
  });

  it('the instance argument, beside the options, in one error', () => {
    for (const instance of [5, 'axios', {}, null, () => {}]) {
      expect(named(() => withResilience(instance as Any, { maxHosts: 0 }))).toEqual(['instance', 'maxHosts']);
    }
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
  withFakeTimers();

  it.each<[string, object]>([
    ['timeout', { timeout: LONG }],
    ['timeout { ms }', { timeout: { ms: LONG } }],
    ['deadlineMs', { deadlineMs: LONG }],
  ])('%s', async (_, options) => {
    const pending = withResilience(axios.create({ adapter: never }), { retry: false, ...options }).get(
      'https://x.test/',
    );
    const state = settled(pending);
    await soon();
    expect(state.done).toBe(false);
  });
});
