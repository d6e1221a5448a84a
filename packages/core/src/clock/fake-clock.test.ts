import { describe, expect, it, vi } from 'vitest';
import { ConfigurationError } from '../errors/errors.js';
import { FakeClock } from './fake-clock.js';
import { sequenceRandom } from './sequence-random.js';

describe('FakeClock', () => {
  it("moves time under vitest's fake timers too: they replace setImmediate, which advance waits on between timers", async () => {
    vi.useFakeTimers();
    try {
      const clock = new FakeClock();
      const slept = clock.sleep(10).then(() => clock.now());
      await clock.advance(10);
      expect(await slept).toBe(10);
    } finally {
      vi.useRealTimers();
    }
  });

  it('adds up advances that overlap (one not awaited), and never runs backwards', async () => {
    const c = new FakeClock();
    void c.advance(100);
    await c.advance(100);
    expect(c.now()).toBe(200);
    const fired: number[] = [];
    c.setTimeout(() => fired.push(c.now()), 1_000);
    const all = c.runAll();
    await c.advance(10);
    await all;
    expect(fired).toEqual([1_200]);
    expect(c.now()).toBe(1_200);
  });

  it('starts at the given time and stands still until advanced', async () => {
    const clock = new FakeClock(1_000);
    expect(clock.now()).toBe(1_000);
    await clock.advance(250);
    expect(clock.now()).toBe(1_250);
  });

  it('fires timers in due-time order, ties in scheduling order', async () => {
    const clock = new FakeClock();
    const fired: string[] = [];
    clock.setTimeout(() => fired.push('b@20'), 20);
    clock.setTimeout(() => fired.push('a@10'), 10);
    clock.setTimeout(() => fired.push('c@20'), 20);
    await clock.advance(15);
    expect(fired).toEqual(['a@10']);
    await clock.advance(5);
    expect(fired).toEqual(['a@10', 'b@20', 'c@20']);
  });

  it('shows each timer the time it was due at', async () => {
    const clock = new FakeClock();
    const seen: number[] = [];
    clock.setTimeout(() => seen.push(clock.now()), 30);
    clock.setTimeout(() => seen.push(clock.now()), 70);
    await clock.advance(100);
    expect(seen).toEqual([30, 70]);
    expect(clock.now()).toBe(100);
  });

  it('runs promise continuations between timers, so chained sleeps complete in one advance', async () => {
    const clock = new FakeClock();
    const steps: number[] = [];
    const chain = (async () => {
      await clock.sleep(10);
      steps.push(clock.now());
      await clock.sleep(10);
      steps.push(clock.now());
    })();
    await clock.advance(20);
    await chain;
    expect(steps).toEqual([10, 20]);
  });

  it('does not fire cleared timers', async () => {
    const clock = new FakeClock();
    let fired = false;
    const handle = clock.setTimeout(() => {
      fired = true;
    }, 5);
    expect(clock.pendingTimers).toBe(1);
    clock.clearTimeout(handle);
    expect(clock.pendingTimers).toBe(0);
    await clock.advance(10);
    expect(fired).toBe(false);
  });

  it('rejects a sleep at once when its signal aborts, and clears the timer', async () => {
    const clock = new FakeClock();
    const controller = new AbortController();
    const sleeping = clock.sleep(1_000, controller.signal);
    controller.abort(new Error('stop'));
    await expect(sleeping).rejects.toThrow('stop');
    expect(clock.pendingTimers).toBe(0);
  });

  it('rejects a sleep with an already aborted signal without scheduling', async () => {
    const clock = new FakeClock();
    await expect(clock.sleep(10, AbortSignal.abort(new Error('late')))).rejects.toThrow('late');
    expect(clock.pendingTimers).toBe(0);
  });

  it('fires a timer longer than 2^31 − 1 ms exactly when due, as the system clock does', async () => {
    const clock = new FakeClock();
    let fired = false;
    clock.setTimeout(() => (fired = true), 3e9);
    await clock.advance(3e9 - 1);
    expect(fired).toBe(false);
    await clock.advance(1);
    expect(fired).toBe(true);
  });

  it('never fires a timer with an infinite delay, not even in runAll, as the system clock does', async () => {
    const clock = new FakeClock();
    let fired = false;
    clock.setTimeout(() => (fired = true), Number.POSITIVE_INFINITY);
    clock.setTimeout(() => {}, 10);
    await clock.runAll();
    expect(fired).toBe(false);
    expect(clock.now()).toBe(10);
    expect(clock.pendingTimers).toBe(1);
  });

  it('fires a timer whose delay is not a number above 0 at the next advance, without moving time', async () => {
    const clock = new FakeClock(100);
    const fired: number[] = [];
    clock.setTimeout(() => fired.push(clock.now()), Number.NaN);
    clock.setTimeout(() => fired.push(clock.now()), -5);
    await clock.advance(0);
    expect(fired).toEqual([100, 100]);
    expect(clock.now()).toBe(100);
  });

  it('rejects a start time that is not a finite number, naming startMs', () => {
    for (const startMs of [Number.NaN, Number.POSITIVE_INFINITY, '0' as unknown as number]) {
      const error = (() => {
        try {
          new FakeClock(startMs);
        } catch (e) {
          return e;
        }
      })();
      expect(error).toBeInstanceOf(ConfigurationError);
      expect((error as ConfigurationError).issues.map((i) => i.option)).toEqual(['startMs']);
    }
  });

  it('rejects a step that is not a finite number >= 0 with a TypeError, and keeps its time', async () => {
    const clock = new FakeClock(50);
    await expect(clock.advance(-1)).rejects.toThrow(TypeError);
    await expect(clock.advance(Number.NaN)).rejects.toThrow(/finite number >= 0/);
    expect(clock.now()).toBe(50);
  });

  it("refuses a step or a limit that is not a number, naming the argument: advance('5') moved time by coercion", async () => {
    const clock = new FakeClock(1_000);
    for (const ms of ['5', null, true, [], {}]) {
      await expect(clock.advance(ms as never)).rejects.toThrow(TypeError);
      await expect(clock.advance(ms as never)).rejects.toThrow(
        'FakeClock.advance(ms) needs a finite number >= 0, received',
      );
    }
    await expect(clock.advance('5' as never)).rejects.toThrow('received "5"');
    expect(clock.now()).toBe(1_000);
    for (const limit of ['10', null, true]) {
      await expect(clock.runAll(limit as never)).rejects.toThrow(
        'FakeClock.runAll(limit) needs a number >= 0, received',
      );
    }
    await expect(clock.runAll('10' as never)).rejects.toThrow('received "10"');
  });

  it("takes a timer's delay as Node does: '5' is 5 ms, not now + '5' (a string later compared as 10005)", async () => {
    const clock = new FakeClock(1_000);
    let fired = 0;
    clock.setTimeout(() => fired++, '5' as never);
    await clock.advance(5);
    expect(fired).toBe(1);
    expect(clock.now()).toBe(1_005);
  });

  it('runAll fires every timer, including ones scheduled while running', async () => {
    const clock = new FakeClock();
    const fired: number[] = [];
    clock.setTimeout(() => {
      fired.push(clock.now());
      clock.setTimeout(() => fired.push(clock.now()), 500);
    }, 100);
    await clock.runAll();
    expect(fired).toEqual([100, 600]);
    expect(clock.pendingTimers).toBe(0);
  });

  it('runAll stops a timer that re-arms forever', async () => {
    const clock = new FakeClock();
    const rearm = () => clock.setTimeout(rearm, 1);
    rearm();
    await expect(clock.runAll(50)).rejects.toThrow('more than 50 timers');
  });

  it('runAll refuses a limit that is not a number >= 0, which would never stop a re-arming timer', async () => {
    const clock = new FakeClock();
    let fired = 0;
    const rearm = () => {
      fired++;
      clock.setTimeout(rearm, 1);
    };
    clock.setTimeout(rearm, 1);
    // NaN compared false with every count, so runAll(NaN) fired this timer forever.
    for (const limit of [Number.NaN, -1, {} as never]) {
      await expect(clock.runAll(limit)).rejects.toThrow(TypeError);
      await expect(clock.runAll(limit)).rejects.toThrow('FakeClock.runAll(limit) needs a number >= 0');
    }
    expect(fired).toBe(0);
    await expect(clock.runAll(3)).rejects.toThrow('more than 3 timers');
  });
});

describe('sequenceRandom', () => {
  it('cycles through its values and rejects values outside [0, 1)', () => {
    const random = sequenceRandom(0.1, 0.9);
    expect([random(), random(), random()]).toEqual([0.1, 0.9, 0.1]);
    expect(() => sequenceRandom(1)).toThrow(RangeError);
    expect(() => sequenceRandom()).toThrow(
      'sequenceRandom needs at least one value, each a number in [0, 1): received none',
    );
  });

  it("refuses a value that is not a number, naming it: '0.5' was given back as a string", () => {
    expect(() => sequenceRandom(0.1, '0.5' as never)).toThrow(
      'sequenceRandom needs at least one value, each a number in [0, 1): received "0.5" at 1',
    );
    expect(() => sequenceRandom(null as never)).toThrow('received null at 0');
  });
});
