import type { ClientAttempt } from '@resilience/core';
import { describe, expect, it } from 'vitest';
import { AttemptCancelToken } from './cancel-token.js';

/** An attempt whose abort listeners can be counted and told. */
function attemptKit() {
  const listeners = new Set<(reason: unknown) => void>();
  const attempt: ClientAttempt = {
    attempt: 1,
    abortable: true,
    signal: undefined,
    onAbort(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
  const abort = () => {
    for (const listener of [...listeners]) listener('aborted');
  };
  return { attempt, abort, listening: () => listeners.size };
}

describe('AttemptCancelToken', () => {
  it('cancels the listeners still subscribed, and lets go of the attempt once the last one leaves', () => {
    const kit = attemptKit();
    const token = new AttemptCancelToken(kit.attempt);
    const told: string[] = [];
    const [a, b, c] = ['a', 'b', 'c'].map((name) => () => void told.push(name)) as [() => void, () => void, () => void];
    token.subscribe(a);
    token.subscribe(b);
    token.subscribe(c);
    expect(kit.listening()).toBe(1); // one listener on the attempt for all of them
    token.unsubscribe(b); // from the middle
    token.unsubscribe(b); // twice: nothing more
    token.unsubscribe(a);
    expect(kit.listening()).toBe(1); // c still listens
    token.unsubscribe(c);
    expect(kit.listening()).toBe(0);
    token.subscribe(a); // after the list emptied: listens again
    expect(kit.listening()).toBe(1);
    kit.abort();
    expect(told).toEqual(['a']);
    token.subscribe(c); // once cancelled: told at once
    expect(told).toEqual(['a', 'c']);
  });
});
