import { OptionsValidator } from '../errors/validate.js';
import { type Clock, sleepOn, type TimerHandle } from './clock.js';

interface FakeTimer {
  readonly due: number;
  readonly seq: number;
  readonly callback: () => void;
  cancelled: boolean;
}

// The real one, taken at load: vitest's and Jest's fake timers replace the global, and
// `advance` would then wait for a tick nothing ever runs.
const immediate = setImmediate;
const flushMicrotasks = () => new Promise<void>((resolve) => immediate(resolve));

/** The `TypeError` for an argument that is not a number in range: `'5'` is not 5 here. */
const refuse = (method: string, value: unknown, range: string) =>
  new TypeError(`${method} needs ${range}, received ${typeof value === 'string' ? `"${value}"` : String(value)}`);

/**
 * A clock for tests. Time stands still until `advance(ms)` or `runAll()` moves it, firing
 * due timers in order and letting promise continuations run between them.
 *
 * @example
 * const clock = new FakeClock();
 * const done = clock.sleep(1_000);
 * await clock.advance(1_000); // `done` is now resolved
 */
export class FakeClock implements Clock {
  #now: number;
  #seq = 0;
  #heap: FakeTimer[] = [];
  #live = 0;
  // Where the advances in progress end: one started before another finished (a forgotten
  // `await`) moves on from there, so two advances of 100 ms make 200.
  #horizon = Number.NEGATIVE_INFINITY;

  /** @param startMs the time `now()` reads at first (ms since the Unix epoch); a finite number. */
  constructor(startMs = 0) {
    new OptionsValidator('FakeClock').number('startMs', startMs).done();
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  /** Timers scheduled and neither fired nor cleared. */
  get pendingTimers(): number {
    return this.#live;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return sleepOn(this, ms, signal);
  }

  setTimeout(callback: () => void, ms: number): TimerHandle {
    ms = +ms; // as Node's setTimeout: a delay of '5' is 5 ms (not this.#now + '5')
    const timer: FakeTimer = {
      due: ms > 0 ? this.#now + ms : this.#now, // NaN and negative delays fire at once, as in Node
      seq: this.#seq++,
      callback,
      cancelled: false,
    };
    this.#push(timer);
    this.#live++;
    return timer;
  }

  clearTimeout(handle: TimerHandle): void {
    const timer = handle as FakeTimer;
    if (timer && typeof timer === 'object' && 'cancelled' in timer && !timer.cancelled) {
      timer.cancelled = true;
      this.#live--;
    }
  }

  /**
   * Moves time forward by `ms`, firing every timer due at or before the new time in order.
   * Timers scheduled while advancing fire too when they fall due within the span.
   * One started while another runs (an `advance` not awaited) moves on from where that ends.
   * Rejects with a `TypeError` unless `ms` is a finite number >= 0.
   */
  async advance(ms: number): Promise<void> {
    if (!(typeof ms === 'number' && ms >= 0 && ms < Number.POSITIVE_INFINITY)) {
      throw refuse('FakeClock.advance(ms)', ms, 'a finite number >= 0');
    }
    const target = Math.max(this.#now, this.#horizon) + ms;
    this.#horizon = target;
    await flushMicrotasks();
    for (let timer = this.#nextDue(target); timer; timer = this.#nextDue(target)) {
      this.#now = Math.max(this.#now, timer.due); // never back, whatever else advances meanwhile
      timer.callback();
      await flushMicrotasks();
    }
    this.#now = Math.max(this.#now, target);
    await flushMicrotasks();
  }

  /**
   * Fires timers until none is left but those with an infinite delay, which never fire (at
   * most `limit`, to catch timers that re-arm forever; a `TypeError` unless a number >= 0).
   */
  async runAll(limit = 100_000): Promise<void> {
    if (!(typeof limit === 'number' && limit >= 0)) throw refuse('FakeClock.runAll(limit)', limit, 'a number >= 0');
    await flushMicrotasks();
    for (let fired = 0; ; fired++) {
      const timer = this.#nextDue(Number.MAX_VALUE);
      if (!timer) return;
      if (fired >= limit) throw new Error(`FakeClock.runAll: more than ${limit} timers fired`);
      this.#now = Math.max(this.#now, timer.due);
      timer.callback();
      await flushMicrotasks();
    }
  }

  #nextDue(target: number): FakeTimer | undefined {
    for (;;) {
      const top = this.#heap[0];
      if (!top || top.due > target) return undefined;
      this.#pop();
      if (top.cancelled) continue;
      top.cancelled = true;
      this.#live--;
      return top;
    }
  }

  #before(a: FakeTimer, b: FakeTimer): boolean {
    return a.due < b.due || (a.due === b.due && a.seq < b.seq);
  }

  #push(timer: FakeTimer): void {
    const heap = this.#heap;
    heap.push(timer);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#before(heap[i] as FakeTimer, heap[parent] as FakeTimer)) break;
      [heap[i], heap[parent]] = [heap[parent] as FakeTimer, heap[i] as FakeTimer];
      i = parent;
    }
  }

  #pop(): void {
    const heap = this.#heap;
    const last = heap.pop();
    if (!last || heap.length === 0) return;
    heap[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let min = i;
      if (l < heap.length && this.#before(heap[l] as FakeTimer, heap[min] as FakeTimer)) min = l;
      if (r < heap.length && this.#before(heap[r] as FakeTimer, heap[min] as FakeTimer)) min = r;
      if (min === i) return;
      [heap[i], heap[min]] = [heap[min] as FakeTimer, heap[i] as FakeTimer];
      i = min;
    }
  }
}
