// Test helpers for durations past 2^31 − 1 ms, which Node's setTimeout fires after 1 ms: the
// options fuzz of every package checks that no such duration of ours fires early. Shared by the
// packages' tests (imported by relative path), never published.
import { afterEach, beforeEach, vi } from 'vitest';

/** A duration past 2^31 − 1 ms. */
export const LONG = 2 ** 31 + 1_000;

/** Fake timers (setTimeout, clearTimeout, setInterval, clearInterval, Date) for the enclosing `describe`. */
export function withFakeTimers(): void {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });
}

/** Lets 10 s of fake time pass, a millisecond at a time at first (where an early timer fires). */
export async function soon(): Promise<void> {
  for (let i = 0; i < 20; i++) await vi.advanceTimersByTimeAsync(1);
  await vi.advanceTimersByTimeAsync(10_000);
}

/** Whether `p` has settled, read when wanted: `settled(p).done`. */
export function settled(p: Promise<unknown>): { done: boolean } {
  const state = { done: false };
  p.then(
    () => (state.done = true),
    () => (state.done = true),
  );
  return state;
}
