import { afterEach, expect, it } from 'vitest';
import { processWide } from './process-wide.js';

const KEY = '@resilience/core:process-wide-test';
afterEach(() => {
  delete (globalThis as Record<symbol, unknown>)[Symbol.for(KEY)];
});

it('makes the value once, under the registered symbol another copy (or release) of a package reads', () => {
  let made = 0;
  const make = () => ({ made: ++made });
  const first = processWide(KEY, make);
  expect(processWide(KEY, make)).toBe(first);
  expect(made).toBe(1);
  expect((globalThis as Record<symbol, unknown>)[Symbol.for(KEY)]).toBe(first);
});

it('finds what another copy put there first, and makes nothing', () => {
  const theirs = new WeakMap();
  (globalThis as Record<symbol, unknown>)[Symbol.for(KEY)] = theirs;
  expect(processWide(KEY, () => new WeakMap())).toBe(theirs);
});
