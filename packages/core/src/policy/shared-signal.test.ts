import { getEventListeners } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { bulkhead } from '../bulkhead/bulkhead.js';
import { FakeClock } from '../clock/fake-clock.js';
import { hedge } from '../hedging/hedge.js';
import { rateLimiter } from '../ratelimit/limiter.js';
import { tokenBucket } from '../ratelimit/token-bucket.js';
import { backoff } from '../retry/backoff.js';
import { retry } from '../retry/retry.js';
import { timeout } from '../timeout/timeout.js';
import { followerCount } from './abort-fanout.js';
import type { ExecuteContext } from './policy.js';

const CALLS = 2_000;

/** A promise the test opens, and a function that reads its signal and waits for it. */
function gate() {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  const fn = ({ signal }: ExecuteContext) =>
    new Promise<string>((resolve, reject) => {
      signal.addEventListener('abort', () => reject(signal.reason), { once: true });
      promise.then(() => resolve('done'));
    });
  return { open, fn };
}

interface Scenario {
  /** Starts CALLS calls under `signal`, all still waiting when it returns. */
  start(signal: AbortSignal): Promise<unknown>[];
  /** Lets every call started finish normally. */
  finish(): Promise<void>;
}

/** Each scenario makes CALLS concurrent calls wait on the caller's signal in one policy. */
const scenarios: Record<string, (clock: FakeClock) => Scenario> = {
  'timeout (the function reads its signal)': (clock) => {
    const policy = timeout(60_000, { clock });
    const g = gate();
    return {
      start: (signal) => Array.from({ length: CALLS }, () => policy.execute(g.fn, signal)),
      finish: async () => g.open(),
    };
  },
  'bulkhead (queued calls)': () => {
    const policy = bulkhead({ limit: 1, queue: CALLS });
    const g = gate();
    let running: Promise<unknown> | undefined;
    return {
      start: (signal) => {
        running = policy.execute(g.fn);
        return Array.from({ length: CALLS }, () => policy.execute(() => 'done', signal));
      },
      finish: async () => {
        g.open();
        await running;
      },
    };
  },
  'retry (waiting out the backoff)': (clock) => {
    const policy = retry({ maxAttempts: 2, backoff: backoff.constant(1_000), handle: () => true, clock });
    return {
      start: (signal) =>
        Array.from({ length: CALLS }, () =>
          policy.execute(({ attempt }) => (attempt === 1 ? Promise.reject(new Error('once')) : 'done'), signal),
        ),
      finish: () => clock.advance(1_000),
    };
  },
  'rateLimiter.wait (queued waiters)': (clock) => {
    // A token every 20 ms: none in the first 10 ms, all served within the default maxWaitMs.
    const limiter = rateLimiter({ algorithm: tokenBucket({ capacity: 1, refillPerSecond: 50 }), clock });
    return {
      start: (signal) => {
        limiter.consumeSync?.('k');
        return Array.from({ length: CALLS }, () => limiter.wait('k', { signal }));
      },
      finish: () => clock.advance(CALLS * 20),
    };
  },
  'hedge (every attempt reads its signal)': (clock) => {
    const policy = hedge({ delayMs: 10, clock });
    const g = gate();
    return {
      start: (signal) => Array.from({ length: CALLS }, () => policy.execute(g.fn, signal)),
      finish: async () => g.open(),
    };
  },
};

const listeners = (signal: AbortSignal) => getEventListeners(signal, 'abort').length;

afterEach(() => {
  vi.restoreAllMocks();
});

describe.each(Object.entries(scenarios))('many concurrent calls under one caller signal: %s', (_, make) => {
  it('leave one listener on the signal, all reject with its reason when it aborts, and no warning', async () => {
    const warn = vi.spyOn(process, 'emitWarning');
    const clock = new FakeClock();
    const caller = new AbortController();
    const scenario = make(clock);
    const calls = scenario.start(caller.signal).map((p) => p.catch((e: unknown) => e));
    await clock.advance(10);
    expect(listeners(caller.signal)).toBe(1);
    const reason = new Error('caller gave up');
    caller.abort(reason);
    const outcomes = await Promise.all(calls);
    expect(outcomes.filter((o) => o === reason)).toHaveLength(CALLS);
    expect(listeners(caller.signal)).toBe(0);
    expect(warn.mock.calls.filter(([w]) => (w as Error).name === 'MaxListenersExceededWarning')).toEqual([]);
  });

  it('leave nothing on the signal once they have completed', async () => {
    const clock = new FakeClock();
    const caller = new AbortController();
    const scenario = make(clock);
    const calls = scenario.start(caller.signal);
    await clock.advance(10);
    await scenario.finish();
    await Promise.all(calls);
    expect(followerCount(caller.signal)).toBe(0);
    expect(listeners(caller.signal)).toBe(0);
  });
});

/** An AbortSignal as abortcontroller-polyfill-style emitters make it: they call function listeners only. */
function functionListenersOnlySignal() {
  const listeners = new Set<(event: unknown) => void>();
  const signal = {
    aborted: false,
    reason: undefined as unknown,
    onabort: null,
    addEventListener: (_type: string, listener: unknown) => {
      if (typeof listener === 'function') listeners.add(listener as (event: unknown) => void);
    },
    removeEventListener: (_type: string, listener: unknown) => listeners.delete(listener as (event: unknown) => void),
    dispatchEvent: () => true,
    throwIfAborted() {},
  };
  const abort = (reason: unknown) => {
    signal.aborted = true;
    signal.reason = reason;
    for (const listener of [...listeners]) listener({ type: 'abort' });
  };
  return { signal: signal as unknown as AbortSignal, abort, listeners };
}

describe('a caller signal whose emitter calls only function listeners (a polyfill)', () => {
  it('is heard: waiting calls reject with its reason, and nothing stays on it', async () => {
    const clock = new FakeClock();
    const caller = functionListenersOnlySignal();
    const g = gate();
    const policy = timeout(60_000, { clock });
    const calls = [policy.execute(g.fn, caller.signal), retry({ clock }).execute(g.fn, caller.signal)].map((p) =>
      p.catch((e: unknown) => e),
    );
    await clock.advance(10);
    const reason = new Error('caller gave up');
    caller.abort(reason);
    expect(await Promise.all(calls)).toEqual([reason, reason]);
    expect(followerCount(caller.signal)).toBe(0);
  });
});
