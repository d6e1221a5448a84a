import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import type { Clock, TimerHandle } from '../clock/clock.js';
import { health } from './health.js';

/** A clock whose timers fire on `fire()`, keeping nothing once fired or cleared. */
function manualClock() {
  const timers = new Map<number, () => void>();
  let next = 0;
  const clock: Clock = {
    now: () => 0,
    sleep: () => new Promise(() => {}),
    setTimeout(callback) {
      timers.set(++next, callback);
      return next;
    },
    clearTimeout: (handle: TimerHandle) => void timers.delete(handle as number),
  };
  const fire = () => {
    for (const [id, callback] of timers) {
      timers.delete(id);
      callback();
    }
  };
  return { clock, fire, timers };
}

describe('health: memory', () => {
  it('holds nothing per run while a check call never settles (each run waits on it until its own timeout)', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const used = () => {
      gc();
      gc();
      return process.memoryUsage().heapUsed;
    };
    const { clock, fire, timers } = manualClock();
    let calls = 0;
    const probes = health({ clock }).register('hung', () => {
      calls++;
      return new Promise(() => {});
    });
    const probe = async () => {
      const run = probes.run();
      fire();
      return run;
    };
    for (let i = 0; i < 1_000; i++) await probe(); // code and shapes in place
    const before = used();
    const RUNS = 20_000;
    let last: Awaited<ReturnType<typeof probe>> | undefined;
    for (let i = 0; i < RUNS; i++) last = await probe();
    const perRun = (used() - before) / RUNS;
    expect(last?.checks.hung).toMatchObject({ status: 'fail', error: 'timed out after 5000 ms' });
    expect(calls).toBe(1); // joined, never made twice
    expect(timers.size).toBe(0);
    expect(perRun).toBeLessThan(64); // 500 B a run when each run kept a reaction on the call's promise
    // Bounded by its work, not by a wait: 21 000 runs and three rounds of full collections took 1.0
    // to 6.1 s in seven runs beside two CPU hogs (as CI runs every project at once on two cores), over
    // the default 5 s twice.
  }, 60_000);
});
