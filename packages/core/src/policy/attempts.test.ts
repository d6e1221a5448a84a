import { describe, expect, it } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
import { hedge } from '../hedging/hedge.js';
import { backoff } from '../retry/backoff.js';
import { retry } from '../retry/retry.js';
import type { AttemptObserver } from './attempts.js';

/**
 * An observer that numbers the calls it is told of and runs each attempt with `current`
 * set to `<call>#<attempt> after <delay>` while the attempt starts, as a tracer makes its
 * span active: what an attempt sees tells which call's runner ran it.
 */
function tagger() {
  let calls = 0;
  const state = { current: 'none', runs: [] as string[] };
  const observer: AttemptObserver = {
    callStarted() {
      const call = ++calls;
      return (run, { attempt, delayMs }) => {
        const tag = `${call}#${attempt} after ${delayMs}`;
        state.runs.push(tag);
        const outer = state.current;
        state.current = tag;
        try {
          return run();
        } finally {
          state.current = outer;
        }
      };
    },
  };
  return { observer, state };
}

describe('observeAttempts', () => {
  it('runs each attempt of a retried call through its call’s runner, with the attempt number and the wait before it', async () => {
    const clock = new FakeClock();
    const policy = retry({ maxAttempts: 3, backoff: backoff.constant(100), handle: () => true, clock });
    const { observer, state } = tagger();
    policy.observeAttempts(observer);
    const seen: string[] = [];
    const call = policy.execute(({ attempt }) => {
      seen.push(state.current);
      return attempt < 3 ? Promise.reject(new Error('flaky')) : 'done';
    });
    await clock.runAll();
    await expect(call).resolves.toBe('done');
    expect(seen).toEqual(['1#1 after 0', '1#2 after 100', '1#3 after 100']);
  });

  it('runs a hedge started by the delay timer through the runner of its own call, not the one that set the timer', async () => {
    const clock = new FakeClock();
    const policy = hedge({ delayMs: 10, maxHedges: 1, clock });
    const { observer, state } = tagger();
    policy.observeAttempts(observer);
    const seen: string[] = [];
    const never = () => {
      seen.push(state.current);
      return new Promise<never>(() => {});
    };
    void policy.execute(never);
    await clock.advance(5);
    void policy.execute(never);
    await clock.advance(20);
    expect(seen).toEqual(['1#1 after 0', '2#1 after 0', '1#2 after 10', '2#2 after 10']);
  });

  it('tells a hedge started at once by a failure that it waited 0 ms', async () => {
    const clock = new FakeClock();
    const policy = hedge({ delayMs: 1_000, maxHedges: 1, clock });
    const { observer, state } = tagger();
    policy.observeAttempts(observer);
    await expect(
      policy.execute(({ attempt }) => (state.runs.length === 1 ? Promise.reject(new Error('first')) : attempt)),
    ).resolves.toBe(1);
    expect(state.runs).toEqual(['1#1 after 0', '1#2 after 0']);
  });

  it('stops telling an observer once disposed, and a broken observer changes no outcome', async () => {
    const policy = retry({ maxAttempts: 2, backoff: backoff.constant(0), handle: () => true });
    const { observer, state } = tagger();
    const stop = policy.observeAttempts(observer);
    policy.observeAttempts({
      callStarted() {
        throw new Error('observer broken');
      },
    });
    policy.observeAttempts({
      callStarted: () => () => {
        throw new Error('runner broken');
      },
    });
    await expect(
      policy.execute(({ attempt }) => (attempt === 1 ? Promise.reject(new Error('x')) : 'ok')),
    ).resolves.toBe('ok');
    expect(state.runs).toEqual(['1#1 after 0', '1#2 after 0']);
    stop();
    await policy.execute(() => 'ok');
    expect(state.runs).toHaveLength(2);
  });
});
