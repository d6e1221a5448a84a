import { describe, expect, it } from 'vitest';
import {
  BrokenCircuitError,
  BulkheadRejectedError,
  IsolatedCircuitError,
  isOwnRejection,
  RateLimitExceededError,
  TimeoutError,
} from './errors.js';
import { handle } from './handle.js';

class DbError extends Error {}

describe('handle', () => {
  it('builds filters for all, transient, classes and predicates', () => {
    expect(handle.all()(new Error('x'))).toBe(true);
    expect(handle.transient()(Object.assign(new Error('x'), { code: 'ECONNRESET' }))).toBe(true);
    expect(handle.transient()(new Error('x'))).toBe(false);
    expect(handle.errors(DbError)(new DbError())).toBe(true);
    expect(handle.errors(DbError)(new Error())).toBe(false);
    expect(handle.errors(TimeoutError)(new TimeoutError(1))).toBe(true);
    expect(handle.when((e) => (e as Error).message === 'x')(new Error('x'))).toBe(true);
  });

  it('combines with or, and, not', () => {
    const dbOrTimeout = handle.errors(DbError).or(handle.errors(TimeoutError));
    expect(dbOrTimeout(new TimeoutError(1))).toBe(true);
    expect(dbOrTimeout(new Error())).toBe(false);
    const transientButNotTimeout = handle.transient().and(handle.errors(TimeoutError).not());
    expect(transientButNotTimeout(new TimeoutError(1))).toBe(false);
    expect(transientButNotTimeout(Object.assign(new Error(), { code: 'EPIPE' }))).toBe(true);
    // not(other): this one but not other (in plain JS it took no argument and negated itself)
    const allButTypeErrors = handle.all().not(handle.errors(TypeError));
    expect([allButTypeErrors(new RangeError()), allButTypeErrors(new TypeError())]).toEqual([true, false]);
  });

  it('leaves the toolkit’s own rejections out of handle.all() and handle.transient() unless asked', () => {
    const own = [
      new BrokenCircuitError('open', 10_000),
      new IsolatedCircuitError(),
      new BulkheadRejectedError(1, 0),
      new RateLimitExceededError(1_000),
    ];
    for (const error of own) {
      expect(handle.all()(error), error.name).toBe(false);
      expect(handle.transient()(error), error.name).toBe(false);
      expect(handle.all().orOwnRejections()(error), error.name).toBe(true);
      expect(handle.transient().orOwnRejections()(error), error.name).toBe(true);
      expect(handle.errors(error.constructor as typeof Error)(error), error.name).toBe(true); // named: asked
    }
    expect(handle.all()(new TimeoutError(1))).toBe(true); // a timeout is the dependency's slowness, not a refusal
    expect(handle.all()('a string')).toBe(true);
    expect(handle.all().orOwnRejections()(new Error('x'))).toBe(true);
    expect(handle.all().or(isOwnRejection)(new BulkheadRejectedError(1, 0))).toBe(true);
  });
});
