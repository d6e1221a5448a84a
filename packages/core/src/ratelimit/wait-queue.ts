import type { Clock, TimerHandle } from '../clock/clock.js';
import { RateLimitExceededError } from '../errors/errors.js';
import type { RateLimitDecision } from './algorithm.js';

interface Waiter {
  readonly cost: number;
  readonly deadline: number;
  readonly resolve: (d: RateLimitDecision) => void;
  readonly reject: (error: unknown) => void;
  readonly signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  done: boolean;
}

class Queue {
  constructor(readonly key: string) {}
  waiters: Waiter[] = [];
  timer: TimerHandle | undefined = undefined;
  dueAt = 0;
  busy = false;
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

  enqueue(key: string, cost: number, maxWaitMs: number, signal: AbortSignal | undefined): Promise<RateLimitDecision> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#waiting >= this.#maxWaiters) return this.#tryOnce(key, cost);
    return new Promise<RateLimitDecision>((resolve, reject) => {
      const now = this.#clock.now();
      const waiter: Waiter = {
        cost,
        deadline: now + maxWaitMs,
        resolve,
        reject,
        signal,
        onAbort: undefined,
        done: false,
      };
      let queue = this.#queues.get(key);
      if (queue === undefined) {
        queue = new Queue(key);
        this.#queues.set(key, queue);
      } else if (queue.timer !== undefined && queue.dueAt > waiter.deadline) {
        reject(new RateLimitExceededError(queue.dueAt - now));
        return;
      }
      queue.waiters.push(waiter);
      this.#waiting++;
      if (queue.waiters.length === 1) this.#pump(key, queue);
      if (!waiter.done && signal !== undefined) {
        const q = queue;
        waiter.onAbort = () => this.#abort(key, q, waiter);
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
    });
  }

  /**
   * Past `maxWaiters`: a key nobody waits on is tried once (no queue to jump); a key with
   * waiters is refused at once, with the time until its queue is next served when known.
   */
  #tryOnce(key: string, cost: number): Promise<RateLimitDecision> {
    const queue = this.#queues.get(key);
    if (queue !== undefined && queue.waiters.length > 0) {
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

  #pump(key: string, queue: Queue): void {
    while (queue.waiters.length > 0 && queue.timer === undefined && !queue.busy) {
      const head = queue.waiters[0]!;
      const at = this.#clock.now();
      let result: RateLimitDecision | Promise<RateLimitDecision>;
      try {
        result = this.#consume(key, head.cost);
      } catch (error) {
        this.#fail(queue, head, error);
        continue;
      }
      if (result instanceof Promise) {
        queue.busy = true;
        result.then(
          (d) => {
            queue.busy = false;
            this.#settle(queue, head, d, at);
            this.#pump(key, queue);
            this.#release(key, queue);
          },
          (error: unknown) => {
            queue.busy = false;
            this.#fail(queue, head, error);
            this.#pump(key, queue);
            this.#release(key, queue);
          },
        );
        return;
      }
      this.#settle(queue, head, result, at);
    }
    if (queue.waiters.length > 0 && queue.timer === undefined && !queue.busy) return;
    this.#release(key, queue);
  }

  /** `at` is when the store decided; `retryAfterMs` counts from then. */
  #settle(queue: Queue, head: Waiter, d: RateLimitDecision, at: number): void {
    if (head.done) return; // aborted while the store call was in flight
    if (d.allowed) {
      queue.waiters.shift();
      this.#finish(head);
      head.resolve(d);
      return;
    }
    const now = this.#clock.now();
    const due = at + d.retryAfterMs;
    const kept: Waiter[] = [];
    for (const w of queue.waiters) {
      if (due > w.deadline) {
        this.#finish(w);
        w.reject(new RateLimitExceededError(due - now));
      } else kept.push(w);
    }
    queue.waiters = kept;
    if (kept.length === 0) return;
    queue.dueAt = due;
    queue.timer = this.#clock.setTimeout(
      () => {
        queue.timer = undefined;
        this.#pump(queue.key, queue);
      },
      Math.max(0, due - now),
    );
  }

  #fail(queue: Queue, head: Waiter, error: unknown): void {
    if (head.done) return;
    queue.waiters.shift();
    this.#finish(head);
    head.reject(error);
  }

  #abort(key: string, queue: Queue, waiter: Waiter): void {
    if (waiter.done) return;
    const index = queue.waiters.indexOf(waiter);
    if (index >= 0) queue.waiters.splice(index, 1);
    this.#finish(waiter);
    waiter.reject(waiter.signal?.reason);
    if (index === 0 && queue.timer !== undefined) {
      this.#clock.clearTimeout(queue.timer);
      queue.timer = undefined;
      this.#pump(key, queue);
    } else this.#release(key, queue);
  }

  /** Marks a queued waiter settled: it no longer counts, and its abort listener goes. */
  #finish(waiter: Waiter): void {
    waiter.done = true;
    this.#waiting--;
    if (waiter.onAbort !== undefined) {
      waiter.signal?.removeEventListener('abort', waiter.onAbort);
      waiter.onAbort = undefined;
    }
  }

  #release(key: string, queue: Queue): void {
    if (queue.waiters.length === 0 && queue.timer === undefined && !queue.busy && this.#queues.get(key) === queue)
      this.#queues.delete(key);
  }
}
