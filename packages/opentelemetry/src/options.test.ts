import { BreakerRegistry, isConfigurationError, retry } from '@resilience/core';
import { describe, expect, it } from 'vitest';
import { instrument, instrumentAll } from './instrument.js';

/** The options a ConfigurationError thrown by `run` names. */
function named(run: () => unknown): string[] {
  try {
    run();
  } catch (error) {
    if (isConfigurationError(error)) return error.issues.map((i) => i.option);
    throw error;
  }
  throw new Error('did not throw');
}

describe('instrument options', () => {
  it('requires a short fixed name', () => {
    expect(named(() => instrument(retry(), {} as never))).toEqual(['name']);
    expect(named(() => instrument(retry(), { name: '' }))).toEqual(['name']);
    expect(named(() => instrument(retry(), { name: 'x'.repeat(101) }))).toEqual(['name']);
    expect(named(() => instrument(retry(), undefined as never))).toEqual(['options', 'name']);
  });

  it('names a source without onEvent, a misspelt option and providers or a clock of the wrong shape', () => {
    expect(
      named(() =>
        instrument(
          {} as never,
          {
            name: 'payments',
            meterProvider: {} as never,
            tracerProvider: 'global' as never,
            clock: Date as never,
            usage: 0.5 as never,
            nmae: 'typo',
          } as never,
        ),
      ),
    ).toEqual(['source', 'nmae', 'usage', 'meterProvider', 'tracerProvider', 'clock']);
  });

  it('instrumentAll names a registry without breakers, list and onAdd, and unknown options', () => {
    expect(named(() => instrumentAll({ breakers: () => [] } as never, { name: 'x' } as never))).toEqual([
      'registry',
      'name',
    ]);
    expect(() => instrumentAll(new BreakerRegistry())).not.toThrow();
  });
});
