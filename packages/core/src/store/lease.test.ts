import { describe, expect, it } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
import { keepRenewing } from './lease.js';

describe('keepRenewing', () => {
  it('renews every interval until stopped, and leaves no timer behind', async () => {
    const clock = new FakeClock();
    const at: number[] = [];
    const stop = keepRenewing(clock, 100, async () => {
      at.push(clock.now());
      return true;
    });
    await clock.advance(350);
    stop();
    await clock.advance(1_000);
    expect(at).toEqual([100, 200, 300]);
    expect(clock.pendingTimers).toBe(0);
  });

  it('stops once the claim is lost, and keeps trying through store errors', async () => {
    const clock = new FakeClock();
    const answers: (boolean | Error)[] = [new Error('store down'), true, false, true];
    let calls = 0;
    keepRenewing(clock, 100, async () => {
      const answer = answers[calls++]!;
      if (answer instanceof Error) throw answer;
      return answer;
    });
    await clock.advance(1_000);
    expect(calls).toBe(3);
    expect(clock.pendingTimers).toBe(0);
  });
});
