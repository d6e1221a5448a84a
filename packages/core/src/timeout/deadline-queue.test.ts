import { describe, expect, it } from 'vitest';
import type { Clock } from '../clock/clock.js';
import { FakeClock } from '../clock/fake-clock.js';
import { type DeadlineEntry, DeadlineQueue } from './deadline-queue.js';

function entry(log: string[], name: string): DeadlineEntry {
  return { deadline: 0, prev: undefined, next: undefined, queue: undefined, expire: () => log.push(name) };
}

/** Entries that count how often the queue reads their deadline: `reads()` so far. */
function countingEntries(log: string[]) {
  let reads = 0;
  const make = (name: string): DeadlineEntry => {
    const e = entry(log, name);
    let d = 0;
    Object.defineProperty(e, 'deadline', {
      get: () => {
        reads++;
        return d;
      },
      set: (v: number) => void (d = v),
    });
    return e;
  };
  return { make, reads: () => reads };
}

/** A FakeClock whose timer handles record ref/unref like Node's. */
function refCountingClock() {
  const fake = new FakeClock();
  const refs: string[] = [];
  const clock: Clock = {
    now: () => fake.now(),
    sleep: (ms, signal) => fake.sleep(ms, signal),
    setTimeout: (callback, ms) => {
      const inner = fake.setTimeout(callback, ms);
      return { inner, ref: () => refs.push('ref'), unref: () => refs.push('unref') };
    },
    clearTimeout: (handle) => fake.clearTimeout((handle as { inner: object }).inner),
  };
  return { fake, clock, refs };
}

describe('DeadlineQueue', () => {
  it('adds in O(1) a deadline earlier than all (a shrinking limit), as one later than all', async () => {
    const clock = new FakeClock();
    const queue = new DeadlineQueue(clock);
    const log: string[] = [];
    const counted = countingEntries(log);
    for (let i = 0; i < 1_000; i++) queue.add(counted.make(`e${i}`), 10_000 - i, 0);
    expect(counted.reads()).toBeLessThan(10_000); // a scan from the tail reads ~500 000
    await clock.advance(10_000);
    expect(log.slice(0, 3)).toEqual(['e999', 'e998', 'e997']);
  });

  it('never scans every call in flight for a deadline that falls among them (an attacker ordering per-call deadlines)', async () => {
    const clock = new FakeClock();
    const queue = new DeadlineQueue(clock);
    const log: string[] = [];
    const counted = countingEntries(log);
    queue.add(counted.make('head'), 1_000, 0);
    // Each later than the head and earlier than every other: a scan from the tail crosses all.
    const middle = Array.from({ length: 2_000 }, (_, i) => counted.make(`m${i}`));
    for (const [i, e] of middle.entries()) queue.add(e, 100_000 - i, 0);
    expect(counted.reads()).toBeLessThan(100_000); // a scan from the tail reads ~2 000 000
    queue.remove(middle[1_999]!); // removed before its time: it never expires
    await clock.advance(1_000);
    expect(log).toEqual(['head']);
    await clock.advance(100_000);
    expect(log.slice(1, 4)).toEqual(['m1998', 'm1997', 'm1996']);
    expect(log).toHaveLength(2_000);
    expect(log).not.toContain('m1999');
    expect(queue.isEmpty).toBe(true);
    expect(clock.pendingTimers).toBe(0);
  });

  it('expires entries in deadline order on one timer, skipping removed ones', async () => {
    const clock = new FakeClock();
    const queue = new DeadlineQueue(clock);
    const log: string[] = [];
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((n) => entry(log, n)) as [
      DeadlineEntry,
      DeadlineEntry,
      DeadlineEntry,
      DeadlineEntry,
    ];
    queue.add(a, 30, 0);
    queue.add(b, 10, 0);
    queue.add(c, 20, 0);
    queue.add(d, 40, 0);
    queue.remove(c);
    queue.remove(c); // harmless
    expect(clock.pendingTimers).toBe(1);
    await clock.advance(35);
    expect(log).toEqual(['b', 'a']);
    await clock.advance(5);
    expect(log).toEqual(['b', 'a', 'd']);
    expect(queue.isEmpty).toBe(true);
    expect(clock.pendingTimers).toBe(0);
  });

  it('does not keep the process alive while idle: unrefs the timer when empty, refs it again on use', () => {
    const { clock, refs } = refCountingClock();
    const queue = new DeadlineQueue(clock);
    const log: string[] = [];
    const first = entry(log, '1');
    queue.add(first, 100, 0);
    queue.remove(first);
    expect(refs).toEqual(['unref']);
    const second = entry(log, '2');
    queue.add(second, 150, 0);
    expect(refs).toEqual(['unref', 'ref']);
    queue.remove(second);
    expect(refs).toEqual(['unref', 'ref', 'unref']);
  });

  it('re-arms for the next deadline when the timer fires early for it', async () => {
    const clock = new FakeClock();
    const queue = new DeadlineQueue(clock);
    const log: string[] = [];
    const first = entry(log, 'first');
    queue.add(first, 100, 0);
    queue.remove(first);
    queue.add(entry(log, 'later'), 250, 0);
    await clock.advance(100);
    expect(log).toEqual([]);
    expect(clock.pendingTimers).toBe(1);
    await clock.advance(150);
    expect(log).toEqual(['later']);
  });
});
