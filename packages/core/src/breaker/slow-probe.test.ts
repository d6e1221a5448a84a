import { describe, expect, it } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
import { memoryStore } from '../store/memory.js';
import { circuitBreaker } from './breaker.js';
import { consecutive } from './strategy.js';

// A probe slower than `halfOpenAfter` (an LLM completion of 30 s behind a 10 s delay) under
// steady traffic: each call after the delay ends the probe round, and the round's success,
// arriving later, must still close the breaker.
const kinds = [
  ['in-process', () => ({})],
  ['store-backed', () => ({ store: memoryStore() })],
] as const;

describe.each(kinds)('a %s breaker whose probes outlast halfOpenAfter', (_, extra) => {
  const setup = (halfOpenAfter: number) => {
    const clock = new FakeClock();
    const breaker = circuitBreaker({ strategy: consecutive(1), halfOpenAfter, clock, registry: false, ...extra() });
    return { clock, breaker };
  };
  const load = async (clock: FakeClock, call: () => void, ms: number) => {
    for (let t = 0; t < ms; t += 1_000) {
      call();
      await clock.advance(1_000);
    }
  };

  it.each([
    [0, 30_000],
    [10_000, 35_000],
  ])('closes under a call a second when halfOpenAfter is %i ms and a probe takes %i ms', async (after, takes) => {
    const { clock, breaker } = setup(after);
    await breaker.execute(() => Promise.reject(new Error('down'))).catch(() => {});
    const slow = () => void breaker.execute(() => clock.sleep(takes)).catch(() => {});
    await load(clock, slow, after + takes);
    expect(await breaker.state).toBe('closed');
  });

  it('drops a late success once a newer probe has failed', async () => {
    const { clock, breaker } = setup(1_000);
    await breaker.execute(() => Promise.reject(new Error('down'))).catch(() => {});
    await clock.advance(1_000);
    const late = breaker.execute(() => clock.sleep(5_000)); // the probe; its round runs out at 2 s
    await clock.advance(2_000);
    await breaker.execute(() => 0).catch(() => {}); // ends the round: open until 3 s
    await clock.advance(1_000);
    await breaker.execute(() => Promise.reject(new Error('down'))).catch(() => {}); // a newer probe fails
    await clock.advance(3_000);
    await late;
    expect(await breaker.state).not.toBe('closed');
  });
});
