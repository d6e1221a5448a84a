import type { Clock, TimerHandle } from '../clock/clock.js';

// Something that can wait in a {@link DeadlineQueue}. The queue owns the link fields.
export interface DeadlineEntry {
  deadline: number;
  prev: DeadlineEntry | undefined;
  next: DeadlineEntry | undefined;
  // The queue holding the entry, if any.
  queue: DeadlineQueue | undefined;
  // Called once when the entry's deadline has passed (it has already left the queue).
  expire(): void;
}

interface Unrefable {
  ref?: () => unknown;
  unref?: () => unknown;
}

// Many deadlines over ONE clock timer. Entries sit in a doubly linked list sorted by
// deadline; the timer is armed for the earliest. Removing an entry (a call that finished
// in time) is O(1) and never touches the timer: when the timer fires it expires what is
// due and re-arms for the new earliest deadline, if any. With a fixed time limit, deadlines
// arrive in order, so insertion is O(1) too (it scans from the tail).
//
// A deadline that falls among those queued (a limit per call, which a client may order
// to make every insertion cross all the calls in flight) is looked for a few steps back
// from the tail at most; further in, the entry gets a clock timer of its own.
//
// So the success path costs a `clock.now()` and a few pointer writes instead of a
// `setTimeout` + `clearTimeout` pair; the timer fires at most about once per time limit.
// While the queue is empty the pending timer is unref'd (when the clock's handles support
// it), so an idle policy never keeps a process alive.
//
// Memory: one entry per call in flight, released when the call settles or expires.
export class DeadlineQueue {
  readonly #clock: Clock;
  #head: DeadlineEntry | undefined;
  #tail: DeadlineEntry | undefined;
  #timer: TimerHandle | undefined;
  #timerDue = Number.POSITIVE_INFINITY;
  #timerRefed = true;
  readonly #own = new Map<DeadlineEntry, TimerHandle>();
  #last = Number.NEGATIVE_INFINITY;
  /** Whether a reading came after the one the timer was armed at. */
  #readSinceArmed = false;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  // True when no entry waits.
  get isEmpty(): boolean {
    return this.#head === undefined && this.#own.size === 0;
  }

  // Queues `entry` to expire at `deadline`; `now` is the clock's current time.
  add(entry: DeadlineEntry, deadline: number, now: number): void {
    if (now < this.#last) {
      // Stepped back since the last reading: the queued deadlines move by the step as far as
      // it is known (late by at most the time since that reading), on a timer armed anew.
      this.#rebase(this.#last - now);
      if (this.#head !== undefined) this.#arm(this.#head.deadline, now);
    }
    this.#last = now;
    this.#readSinceArmed = true; // until `#arm` below, if it runs
    entry.deadline = deadline;
    entry.queue = this;
    // From the tail (a fixed limit: in order), unless it goes first (a shrinking limit).
    let after = this.#head === undefined || deadline < this.#head.deadline ? undefined : this.#tail;
    for (let steps = 0; after !== undefined && after.deadline > deadline; after = after.prev) {
      if (++steps > 8) {
        entry.prev = entry.next = entry; // marks a timer of its own
        const expire = () => {
          this.#own.delete(entry);
          entry.queue = entry.prev = entry.next = undefined;
          entry.expire();
        };
        this.#own.set(entry, this.#clock.setTimeout(expire, Math.max(0, deadline - now)));
        return;
      }
    }
    entry.prev = after;
    if (after === undefined) {
      entry.next = this.#head;
      if (this.#head) this.#head.prev = entry;
      this.#head = entry;
    } else {
      entry.next = after.next;
      if (after.next) after.next.prev = entry;
      after.next = entry;
    }
    if (entry.next === undefined) this.#tail = entry;
    if (deadline < this.#timerDue) this.#arm(deadline, now);
    else if (!this.#timerRefed) this.#ref(true);
  }

  // Takes `entry` out of the queue (no-op when it is not queued).
  remove(entry: DeadlineEntry): void {
    if (entry.queue !== this) return;
    entry.queue = undefined;
    const { prev, next } = entry;
    if (prev === entry) {
      this.#clock.clearTimeout(this.#own.get(entry)!);
      this.#own.delete(entry);
      entry.prev = entry.next = undefined;
      return;
    }
    if (prev) prev.next = next;
    else this.#head = next;
    if (next) next.prev = prev;
    else this.#tail = prev;
    entry.prev = entry.next = undefined;
    if (this.#head === undefined && this.#timerRefed && this.#timer !== undefined) this.#ref(false);
  }

  // Clears the pending timer while no entry waits (a policy being dropped); `add` re-arms it.
  release(): void {
    if (this.#head === undefined && this.#timer !== undefined) {
      this.#clock.clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#timerDue = Number.POSITIVE_INFINITY;
    }
  }

  // The wall clock stepped back by `step` (an NTP correction): every deadline queued moves
  // with it, so each keeps the time it had left, as the timers (real time) do.
  #rebase(step: number): void {
    for (let entry = this.#head; entry !== undefined; entry = entry.next) entry.deadline -= step;
    for (const entry of this.#own.keys()) entry.deadline -= step;
    this.#timerDue -= step;
  }

  #arm(due: number, now: number): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timerDue = due;
    this.#readSinceArmed = false;
    this.#timerRefed = true;
    this.#timer = this.#clock.setTimeout(this.#fire, Math.max(0, due - now));
  }

  #ref(on: boolean): void {
    this.#timerRefed = on;
    const timer = this.#timer as Unrefable;
    if (on) timer.ref?.();
    else timer.unref?.();
  }

  readonly #fire = (): void => {
    const now = this.#clock.now();
    // The timer waited real time: a clock that reads earlier than at the last reading stepped
    // back. When that reading armed the timer, by as much as it reads short of the deadline;
    // else by as much as it reads short of that reading (a deadline set since may already
    // carry part of the step; a jump forward undone). Late by at most the time since that
    // reading, never early. (One that reads a little short of the deadline alone is a timer
    // firing early, or a coarse clock: no step.)
    if (now < this.#last) this.#rebase((this.#readSinceArmed ? this.#last : this.#timerDue) - now);
    this.#last = now;
    this.#timer = undefined;
    this.#timerDue = Number.POSITIVE_INFINITY;
    for (let entry = this.#head; entry !== undefined && entry.deadline <= now; entry = this.#head) {
      this.remove(entry);
      entry.expire();
    }
    const head = this.#head;
    if (head !== undefined && head.deadline < this.#timerDue) this.#arm(head.deadline, now);
  };
}
