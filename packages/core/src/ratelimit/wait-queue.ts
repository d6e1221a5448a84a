import type { Clock, TimerHandle } from '../clock/clock.js';
import { RateLimitExceededError } from '../errors/errors.js';
import { type AbortFollower, followAbort, unfollowAbort } from '../policy/abort-fanout.js';
import { neverAborted } from '../policy/policy.js';
import type { RateLimitDecision } from './algorithm.js';

/** A call waiting on a key: a node of its key's FIFO list, and a follower of its caller's signal. */
class Waiter implements AbortFollower {
  prev: Waiter | undefined = undefined;
  next: Waiter | undefined = undefined;
  done = false;

  constructor(
    readonly owner: WaitQueues,
    readonly queue: Queue,
    readonly cost: number,
    readonly deadline: number,
    readonly resolve: (d: RateLimitDecision) => void,
    readonly reject: (error: unknown) => void,
    readonly signal: AbortSignal | undefined,
  ) {}

  /** The caller's signal aborted. */
  handleEvent(): void {
    this.owner._abort(this);
  }
}

/** The waiters of one key, oldest first (a doubly linked list: leaving is O(1)). */
class Queue {
  constructor(readonly key: string) {}
  head: Waiter | undefined = undefined;
  tail: Waiter | undefined = undefined;
  timer: TimerHandle | undefined = undefined;
  dueAt = 0;
  busy = false;

  push(waiter: Waiter): void {
    waiter.prev = this.tail;
    if (this.tail) this.tail.next = waiter;
    else this.head = waiter;
    this.tail = waiter;
  }

  remove(waiter: Waiter): void {
    const { prev, next } = waiter;
    if (prev) prev.next = next;
    else this.head = next;
    if (next) next.prev = prev;
    else this.tail = prev;
    waiter.prev = waiter.next = undefined;
  }
}

/** Takes `cost` from a store key: synchronously when the store allows it. */
export type TryConsume = (key: string, cost: number) => RateLimitDecision | Promise<RateLimitDecision>;

/**
 * FIFO waiters per key. Only the head of a key's queue consults the store; when it is
 * refused, one timer is set for its `retryAfterMs`, and every waiter whose deadline falls
 * before that time is rejected at once (FIFO means none of them can be served sooner).
 * Memory: at most `maxWaiters` waiting calls over all keys (one small record each, one
 * entry per key with waiters); past it a call is tried once and rejected if refused.
 */
export class WaitQueues {
  readonly #queues = new Map<string, Queue>();
  readonly #clock: Clock;
  readonly #consume: TryConsume;
  readonly #maxWaiters: number;
  #waiting = 0;

  constructor(clock: Clock, consume: TryConsume, maxWaiters: number) {
    this.#clock = clock;
    this.#consume = consume;
    this.#maxWaiters = maxWaiters;
  }

  /** Whether calls wait on `key`. */
  has(key: string): boolean {
    return this.#queues.has(key);
  }

  enqueue(key: string, cost: number, maxWaitMs: number, signal: AbortSignal | undefined): Promise<RateLimitDecision> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#waiting >= this.#maxWaiters) return this.#tryOnce(key, cost);
    return new Promise<RateLimitDecision>((resolve, reject) => {
      const now = this.#clock.now();
      const deadline = now + maxWaitMs;
      let queue = this.#queues.get(key);
      if (queue === undefined) {
        queue = new Queue(key);
        this.#queues.set(key, queue);
      } else if (queue.timer !== undefined && queue.dueAt > deadline) {
        reject(new RateLimitExceededError(queue.dueAt - now));
        return;
      }
      const followed = signal === neverAborted ? undefined : signal;
      const waiter = new Waiter(this, queue, cost, deadline, resolve, reject, followed);
      queue.push(waiter);
      this.#waiting++;
      if (queue.head === waiter) this.#pump(queue);
      if (!waiter.done && followed !== undefined) followAbort(followed, waiter);
    });
  }

  /**
   * Past `maxWaiters`: a key nobody waits on is tried once (no queue to jump); a key with
   * waiters is refused at once, with the time until its queue is next served when known.
   */
  #tryOnce(key: string, cost: number): Promise<RateLimitDecision> {
    const queue = this.#queues.get(key);
    if (queue?.head !== undefined) {
      const retryAfterMs = queue.timer === undefined ? 0 : Math.max(0, queue.dueAt - this.#clock.now());
      return Promise.reject(new RateLimitExceededError(retryAfterMs));
    }
    const admit = (d: RateLimitDecision): RateLimitDecision => {
      if (d.allowed) return d;
      throw new RateLimitExceededError(d.retryAfterMs);
    };
    try {
      const result = this.#consume(key, cost);
      return result instanceof Promise ? result.then(admit) : Promise.resolve(admit(result));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Serves the head of `queue` while the store admits it (a loop: no depth of queue grows the stack). */
  #pump(queue: Queue): void {
    for (let head = queue.head; head !== undefined && queue.timer === undefined && !queue.busy; head = queue.head) {
      if (head.signal?.aborted) {
        // Its caller gave up and has not been told yet (the signal's followers are told in
        // turn): it must not take what the store would give it.
        this.#leave(head);
        head.reject(head.signal.reason);
        continue;
      }
      const at = this.#clock.now();
      let result: RateLimitDecision | Promise<RateLimitDecision>;
      try {
        result = this.#consume(queue.key, head.cost);
      } catch (error) {
        this.#leave(head);
        head.reject(error);
        continue;
      }
      if (result instanceof Promise) {
        queue.busy = true;
        const waiter = head;
        result.then(
          (d) => {
            queue.busy = false;
            this.#settle(queue, waiter, d, at);
            this.#pump(queue);
          },
          (error: unknown) => {
            queue.busy = false;
            if (!waiter.done) {
              this.#leave(waiter);
              waiter.reject(error);
            }
            this.#pump(queue);
          },
        );
        return;
      }
      this.#settle(queue, head, result, at);
    }
    this.#release(queue);
  }

  /** `at` is when the store decided; `retryAfterMs` counts from then. */
  #settle(queue: Queue, head: Waiter, d: RateLimitDecision, at: number): void {
    if (head.done) {
      // Aborted (and told at once) while the store decided: a store cannot give back what it
      // took, so an admission goes to the next waiter when its cost fits.
      const next = queue.head;
      if (!d.allowed || next === undefined || next.cost > head.cost || next.signal?.aborted) return;
      head = next;
    }
    if (d.allowed) {
      this.#leave(head);
      head.resolve(d);
      return;
    }
    const now = this.#clock.now();
    const due = at + d.retryAfterMs;
    for (let w = queue.head; w !== undefined; ) {
      const next = w.next;
      if (!(due <= w.deadline)) {
        this.#leave(w);
        w.reject(new RateLimitExceededError(Math.max(0, due - now))); // a slow store: `due` may be past
      }
      w = next;
    }
    // A head refused past its deadline is gone: the next is tried now, not at its time.
    if (head.done) return;
    queue.dueAt = due;
    queue.timer = this.#clock.setTimeout(
      () => {
        queue.timer = undefined;
        this.#pump(queue);
      },
      Math.max(0, due - now),
    );
  }

  // @internal A waiter's caller aborted: it leaves its queue at once (O(1)).
  _abort(waiter: Waiter): void {
    if (waiter.done) return;
    const queue = waiter.queue;
    const wasHead = queue.head === waiter;
    this.#leave(waiter);
    waiter.reject(waiter.signal?.reason);
    if (wasHead && queue.timer !== undefined) {
      // The timer was for the head's cost: the next waiter may be served sooner.
      this.#clock.clearTimeout(queue.timer);
      queue.timer = undefined;
      this.#pump(queue);
    } else this.#release(queue);
  }

  /** Takes a waiter out of its queue: it no longer counts, and it stops following its signal. */
  #leave(waiter: Waiter): void {
    waiter.done = true;
    waiter.queue.remove(waiter);
    this.#waiting--;
    if (waiter.signal !== undefined) unfollowAbort(waiter.signal, waiter);
  }

  #release(queue: Queue): void {
    if (queue.head === undefined && queue.timer === undefined && !queue.busy && this.#queues.get(queue.key) === queue)
      this.#queues.delete(queue.key);
  }
}
