// registerResilienceMetrics fed hostile options: each must be refused with a ConfigurationError
// naming the option (docs/README.md, "Bad input fails loudly"), registering nothing — never
// taken with a meaning of its own (a prefix of `NaN`, collectors named "0" and "1").
import { breakerRegistry, isConfigurationError, metrics } from '@resilience/core';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { registerResilienceMetrics } from './index.js';

// biome-ignore lint/suspicious/noExplicitAny: feeding the function what its types forbid is the point.
type Any = any;

/** The options the refusal names (the registry left empty), or 'accepted'; anything else thrown is rethrown. */
function named(options: unknown): readonly string[] | 'accepted' {
  const registry = new Registry();
  try {
    registerResilienceMetrics(registry, options as Any);
  } catch (error) {
    if (!isConfigurationError(error)) throw error;
    expect(registry.getMetricsAsArray()).toEqual([]);
    return error.issues.map((i) => i.option);
  }
  return 'accepted';
}

const refusedAs = (options: unknown, option: string, label = String(options)) => {
  const issues = named(options);
  const ok = issues !== 'accepted' && issues.some((o) => o === option || o.startsWith(`${option}.`));
  expect(ok, `${option} = ${label}: ${issues === 'accepted' ? 'accepted' : `named ${issues.join(', ')}`}`).toBe(true);
};

const source = () => metrics();
const show = (v: unknown): string =>
  Array.isArray(v)
    ? `[${v.map(show).join(', ')}]`
    : v instanceof Map
      ? 'a Map'
      : typeof v === 'object' && v !== null
        ? `{${Object.keys(v)}}`
        : String(v);
const limit = { name: 'openai', usage: () => ({ used: 1, limit: 2 }) };

describe('each option refuses hostile values, naming it', () => {
  it.each<[string, unknown[]]>([
    ['collectors', [5, 'stats', null, true, { a: 5 }, [source()], [source(), source()], new Map([['a', source()]])]],
    ['breakers', [5, 'x', null, {}, [5], [{ state: 'open' }], new Map()]],
    ['rateLimits', [5, 'x', null, {}, [limit, limit], [{ name: '', usage: () => 1 }], new Map()]],
    ['prefix', ['', 'my-app_', '1x_', 5, Number.NaN, Number.POSITIVE_INFINITY, true, false, {}, [], Symbol('p')]],
    ['breakerStates', [5, 'open', null, {}, [5]]],
    ['buckets', [5, [], [0], [-1], [2, 1], [1, 1], [Number.NaN], [Number.POSITIVE_INFINITY], ['1'], null]],
    ['summary', [1, 'true', {}, null]],
  ])('%s', (option, values) => {
    for (const value of values) refusedAs({ collectors: source(), [option]: value }, option, show(value));
  });

  it('a null-prototype object as a prefix or a record of collectors is named, not a raw TypeError', () => {
    refusedAs({ collectors: source(), prefix: Object.create(null) }, 'prefix', 'Object.create(null)');
  });

  it.each(['collector', 'breaker', 'rateLimit', 'prefx', 'bucket', 'summaries', 'registry', 'collectors_'])(
    'a misspelt name (%s)',
    (option) => {
      refusedAs({ collectors: source(), [option]: 1 }, option);
    },
  );

  it.each<[string, unknown]>([
    ['a string', 'x'],
    ['an array', []],
    ['null', null],
    ['a Map', new Map()],
    ['a metrics collector itself', source()],
  ])('options that are %s', (_, options) => {
    refusedAs(options, 'options');
  });

  it('takes its documented shapes: one collector, a record, a registry of breakers, a null-prototype record', () => {
    expect(named({ collectors: source() })).toBe('accepted');
    expect(named({ collectors: { api: source(), db: source() }, breakers: breakerRegistry })).toBe('accepted');
    expect(named({ collectors: Object.assign(Object.create(null), { api: source() }) })).toBe('accepted');
    expect(named(Object.freeze({ collectors: source(), rateLimits: Object.freeze([limit]), buckets: [0.1, 1] }))).toBe(
      'accepted',
    );
  });

  it('the registry argument, beside the options, in one error', () => {
    let error: unknown;
    try {
      registerResilienceMetrics({} as Any, { collectors: 5 as Any });
    } catch (e) {
      error = e;
    }
    expect(isConfigurationError(error) && error.issues.map((i) => i.option)).toEqual(['registry', 'collectors']);
  });
});
