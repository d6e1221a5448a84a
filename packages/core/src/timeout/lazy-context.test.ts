import { describe, expect, it } from 'vitest';
import { LazyContext } from './lazy-context.js';

describe('LazyContext.aborted', () => {
  it('reads its own abort and every parent’s without making a signal', () => {
    const caller = new AbortController();
    const outer = new LazyContext({ signal: caller.signal, attempt: 1 });
    const inner = new LazyContext(outer);
    expect([outer.aborted, inner.aborted]).toEqual([false, false]);
    caller.abort(new Error('gone'));
    expect([outer.aborted, inner.aborted]).toEqual([true, true]);
    const own = new LazyContext({ signal: new AbortController().signal, attempt: 1 });
    own.abort(new Error('limit'));
    expect([own.aborted, new LazyContext(own).aborted]).toEqual([true, true]);
    expect(own.signal.aborted).toBe(true);
  });
});
