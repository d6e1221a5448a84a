// instrument and instrumentAll fed hostile options: each must be refused with a
// ConfigurationError naming the option (docs/README.md, "Bad input fails loudly"). A provider
// passes the shape check by having `getMeter` (`getTracer`); what it hands back must be a
// meter (tracer) too, or instrumenting throws a raw TypeError, or reports nothing, unnamed.
import { BreakerRegistry, retry } from '@resilience/core';
import { describe, expect, it } from 'vitest';
import { named } from '../../../test-kit/refusal.js';
import { instrument, instrumentAll } from './instrument.js';
import { sdk } from './sdk.fixture.js';

// biome-ignore lint/suspicious/noExplicitAny: feeding the functions what their types forbid is the point.
type Any = any;

const refusedAs = (run: () => unknown, option: string, label: string) => {
  let issues: readonly string[] | 'accepted';
  try {
    issues = named(run);
  } catch (error) {
    throw new Error(`${option} = ${label}: threw ${String(error)}`);
  }
  expect(issues, `${option} = ${label}`).not.toBe('accepted');
  expect(issues, `${option} = ${label}`).toContain(option);
};

const both = (options: object) => [
  () => instrument(retry(), { name: 'payments', ...options } as Any),
  () => instrumentAll(new BreakerRegistry(), options as Any),
];

describe('each option refuses hostile values, naming it', () => {
  it.each<[string, unknown[]]>([
    ['meterProvider', [5, 'global', {}, null, [], () => ({})]],
    ['tracerProvider', [5, 'global', {}, null, [], () => ({})]],
    ['clock', [5, {}, null, { now: () => 0 }, Date]],
  ])('%s', (option, values) => {
    for (const value of values) for (const run of both({ [option]: value })) refusedAs(run, option, String(value));
  });

  it('name and usage of instrument', () => {
    for (const name of [5, '', 'x'.repeat(101), null, {}, true]) {
      refusedAs(() => instrument(retry(), { name } as Any), 'name', String(name));
    }
    for (const usage of [5, 'x', {}, null, true]) {
      refusedAs(() => instrument(retry(), { name: 'x', usage } as Any), 'usage', String(usage));
    }
    for (const usageTimeoutMs of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, '100', 2 ** 31]) {
      refusedAs(
        () => instrument(retry(), { name: 'x', usageTimeoutMs } as Any),
        'usageTimeoutMs',
        String(usageTimeoutMs),
      );
    }
  });

  it('misspelt names, and options that are no plain object', () => {
    for (const option of ['meterprovider', 'tracerProviders', 'clok', 'nmae', 'usages']) {
      refusedAs(() => instrument(retry(), { name: 'x', [option]: 1 } as Any), option, 'a misspelt name');
    }
    for (const options of ['x', 5, [], null, new Map()]) {
      refusedAs(() => instrumentAll(new BreakerRegistry(), options as Any), 'options', String(options));
    }
  });

  const meterOf = (meter: unknown) => ({ getMeter: () => meter });
  const tracerOf = (tracer: unknown) => ({ getTracer: () => tracer });
  const throws = (method: string) => ({
    [method]: () => {
      throw new Error('no SDK for you');
    },
  });

  it('a meterProvider whose getMeter answers no meter, or throws, is named', () => {
    for (const [label, provider] of [
      ['{}', meterOf({})],
      ['undefined', meterOf(undefined)],
      ['a meter without createObservableGauge', meterOf({ createHistogram() {}, createCounter() {} })],
      ['throws', throws('getMeter')],
    ] as const) {
      for (const run of both({ meterProvider: provider })) refusedAs(run, 'meterProvider', label);
    }
  });

  it('a tracerProvider whose getTracer answers no tracer, or throws, is named', () => {
    for (const [label, provider] of [
      ['{}', tracerOf({})],
      ['undefined', tracerOf(undefined)],
      ['throws', throws('getTracer')],
    ] as const) {
      for (const run of both({ tracerProvider: provider })) refusedAs(run, 'tracerProvider', label);
    }
  });

  it('takes the SDK providers, a null-prototype options object and a frozen one', () => {
    const { meterProvider, tracerProvider } = sdk();
    const options = { meterProvider, tracerProvider };
    expect(named(() => instrument(retry(), { name: 'a', ...options }))).toBe('accepted');
    expect(named(() => instrumentAll(new BreakerRegistry(), Object.assign(Object.create(null), options)))).toBe(
      'accepted',
    );
    expect(named(() => instrument(retry(), Object.freeze({ name: 'b', ...options })))).toBe('accepted');
  });
});
