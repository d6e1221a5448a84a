import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../errors/errors.js';
import type { Clock } from './clock.js';
import { CoarseClock } from './coarse-clock.js';
import { FakeClock } from './fake-clock.js';

describe('CoarseClock', () => {
  it('reads its base once per resolution while in use', async () => {
    const base = new FakeClock(1_000);
    let reads = 0;
    const counted = {
      now: () => {
        reads++;
        return base.now();
      },
      sleep: (ms: number) => base.sleep(ms),
      setTimeout: (fn: () => void, ms: number) => base.setTimeout(fn, ms),
      clearTimeout: (handle: object | number) => base.clearTimeout(handle),
    };
    const clock = new CoarseClock(counted, 10);
    expect(clock.now()).toBe(1_000);
    await base.advance(5);
    expect(clock.now()).toBe(1_000);
    expect(reads).toBe(1);
    await base.advance(5);
    expect(clock.now()).toBe(1_010);
    expect(reads).toBe(2);
  });

  it('never runs ahead of its base, and lags it by at most the resolution', async () => {
    const base = new FakeClock();
    const clock = new CoarseClock(base, 4);
    for (let t = 0; t < 40; t++) {
      const seen = clock.now();
      expect(seen).toBeLessThanOrEqual(base.now());
      expect(base.now() - seen).toBeLessThanOrEqual(4);
      await base.advance(1);
    }
  });

  it('stops its timer after an interval without reads and restarts with a fresh reading', async () => {
    const base = new FakeClock();
    const clock = new CoarseClock(base, 1);
    clock.now();
    expect(base.pendingTimers).toBe(1);
    await base.advance(1); // the first interval had a read: refresh and re-arm
    expect(base.pendingTimers).toBe(1);
    await base.advance(1); // the second had none: stop
    expect(base.pendingTimers).toBe(0);
    await base.advance(500);
    expect(clock.now()).toBe(502);
    expect(base.pendingTimers).toBe(1);
  });

  it('unrefs its timer so it never keeps a process alive', () => {
    let unrefs = 0;
    const base = new FakeClock();
    const clock = new CoarseClock(
      {
        now: () => base.now(),
        sleep: (ms: number) => base.sleep(ms),
        setTimeout: (fn: () => void, ms: number) => {
          base.setTimeout(fn, ms);
          return { unref: () => unrefs++ };
        },
        clearTimeout: () => {},
      },
      1,
    );
    clock.now();
    expect(unrefs).toBe(1);
  });

  it('delegates sleep and timers to its base', async () => {
    const base = new FakeClock();
    const clock = new CoarseClock(base, 1);
    let fired = false;
    clock.setTimeout(() => {
      fired = true;
    }, 10);
    const slept = clock.sleep(20);
    await base.advance(20);
    await slept;
    expect(fired).toBe(true);
  });

  it('rejects a resolution that is not a number above 0 and a base that is not a Clock, naming each', () => {
    const options = (make: () => unknown) => {
      try {
        make();
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigurationError);
        return (e as ConfigurationError).issues.map((i) => i.option);
      }
    };
    const base = new FakeClock();
    expect(options(() => new CoarseClock(base, 0))).toEqual(['resolutionMs']);
    expect(options(() => new CoarseClock(base, Number.NaN))).toEqual(['resolutionMs']);
    expect(options(() => new CoarseClock({} as Clock, -1))).toEqual(['base', 'resolutionMs']);
  });
});
