import { describe, expect, it } from 'vitest';
import { named } from '../../../../test-kit/refusal.js';
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

  it('refuses, when built, what is not an error class or a yes/no function, naming it', () => {
    // biome-ignore lint/suspicious/noExplicitAny: feeding the builders what their types forbid is the point.
    const h = handle as any;
    // cockatiel's handleType(Class, predicate): the arrow function throws in `instanceof` at every error.
    expect(named(() => h.errors(DbError, (e: { code?: string }) => e.code === 'X'))).toEqual(['classes[1]']);
    expect(named(() => h.errors('DbError'))).toEqual(['classes[0]']);
    expect(named(() => h.errors())).toEqual(['classes']);
    expect(named(() => h.when(async () => true))).toEqual(['predicate']);
    expect(named(() => h.when())).toEqual(['predicate']);
    expect(named(() => handle.all().or('x' as never))).toEqual(['predicate']);
    expect(named(() => handle.all().and(undefined as never))).toEqual(['predicate']);
    expect(named(() => handle.all().not(42 as never))).toEqual(['predicate']);
    expect(named(() => handle.errors(DbError, TimeoutError).not())).toBe('accepted');
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
