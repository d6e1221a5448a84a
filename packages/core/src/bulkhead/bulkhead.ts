import { type Clock, systemClock, type TimerHandle } from '../clock/clock.js';
import type { AdaptiveLimit, AdaptiveLimitState } from '../concurrency/adaptive-limit.js';
import { classify } from '../errors/classify.js';
import { BulkheadRejectedError } from '../errors/errors.js';
import { Emitter } from '../events/emitter.js';
import { followAbort, unfollowAbort } from '../policy/abort-fanout.js';
import { type ExecuteContext, neverAborted, PolicyBase, type PolicyFn } from '../policy/policy.js';
import { type BulkheadOptions, type ResolvedBulkheadOptions, resolveBulkheadOptions } from './options.js';

/** A call turned away because every execution slot and queue slot was taken. */
export type BulkheadEvent = { type: 'rejected'; policy: string; executing: number; queued: number };

/** A call waiting for an execution slot: a node of the FIFO queue. */
class QueuedCall {
  prev: QueuedCall | undefined = undefined;
  next: QueuedCall | undefined = undefined;
  signal: AbortSignal | undefined = undefined;
  /** Clock time past which the call leaves the queue rejected (`maxQueueMs`). */
  deadline = 0;

  constructor(
    readonly owner: BulkheadPolicy,
    /** Gives the call its slot; the call then starts from its caller's continuation. */
    readonly admit: () => void,
    readonly reject: (error: unknown) => void,
  ) {}

  /** The caller's signal aborted while queued: leave the queue at once. */
  handleEvent(): void {
    const signal = this.signal;
    this.signal = undefined;
    this.owner._leave(this);
    this.reject(signal?.reason);
  }
}

const isThenable = (v: unknown): v is PromiseLike<unknown> =>
  v !== null &&
  (typeof v === 'object' || typeof v === 'function') &&
  typeof (v as { then?: unknown }).then === 'function';

/**
 * Limits concurrency: at most `limit` calls execute (a fixed number, or what an adaptive
 * limit allows now), up to `queue` wait in FIFO order for at most `maxQueueMs`, the rest are
 * rejected at once with `BulkheadRejectedError`. Memory: at most `queue` waiters.
 */
export class BulkheadPolicy extends PolicyBase<BulkheadEvent> {
  readonly name: string;
  readonly #opts: ResolvedBulkheadOptions;
  readonly #clock: Clock;
  readonly #events = new Emitter<BulkheadEvent>();
  readonly #adaptive: AdaptiveLimit | undefined;
  #limitState: AdaptiveLimitState | undefined;
  #limit: number;
  #active = 0;
  #queued = 0;
  #head: QueuedCall | undefined;
  #tail: QueuedCall | undefined;
  /** The one timer of `maxQueueMs`: due when the oldest waiter's wait runs out. */
  #expiry: TimerHandle | undefined;
  /** When `#expiry` is due, and the queue's last clock reading: a later one that is earlier stepped back. */
  #due = 0;
  #last = Number.NEGATIVE_INFINITY;

  readonly onEvent = this.#events.subscribe;
  readonly onRejected = this.#events.subscribe;

  constructor(options: BulkheadOptions) {
    super();
    this.#opts = resolveBulkheadOptions(options);
    this.name = this.#opts.name;
    this.#clock = options.clock ?? systemClock;
    this.#adaptive = this.#opts.adaptive;
    this.#limit = this.#opts.limit;
  }

  /** Calls allowed to execute at once now: the `limit` option, or what the adaptive limit allows. */
  get limit(): number {
    return this.#limit;
  }

  /** The adaptive limit's state (baseline, last round-trip time ...); `undefined` for a fixed limit or before the first call. */
  get limitState(): AdaptiveLimitState | undefined {
    return this.#limitState;
  }

  /** Calls allowed to wait for a slot (the `queue` option). */
  get queue(): number {
    return this.#opts.queue;
  }

  /** Free execution slots (0 while an adaptive limit is below the calls still running). */
  get executionSlots(): number {
    return Math.max(0, this.#limit - this.#active);
  }

  /** Free queue slots. */
  get queueSlots(): number {
    return this.#opts.queue - this.#queued;
  }

  run<T>(fn: PolicyFn<T>, context: ExecuteContext): Promise<T> {
    if (this.#active < this.#limit) {
      this.#active++;
      return this.#exec(fn, context);
    }
    if (this.#queued < this.#opts.queue) return this.#enqueue(fn, context);
    return Promise.reject(this.#rejection());
  }

  #rejection(): BulkheadRejectedError {
    if (this.#events.hasListeners) {
      this.#events.emit({ type: 'rejected', policy: this.name, executing: this.#active, queued: this.#queued });
    }
    return new BulkheadRejectedError(this.#limit, this.#opts.queue, this.#opts.retryAfterMs);
  }

  #exec<T>(fn: PolicyFn<T>, context: ExecuteContext): Promise<T> {
    // An adaptive limit learns from each call's round-trip time and the concurrency it ran at.
    const started = this.#adaptive === undefined ? 0 : this.#clock.now();
    const inflight = this.#active;
    let result: T | PromiseLike<T>;
    let thenable: boolean;
    try {
      result = fn(context);
      thenable = isThenable(result); // a `then` getter that throws must free the slot too
    } catch (error) {
      this.#release(started, inflight, error);
      return Promise.reject(error);
    }
    if (!thenable) {
      this.#release(started, inflight);
      return Promise.resolve(result);
    }
    return Promise.resolve(result).then(
      (value) => {
        this.#release(started, inflight);
        return value;
      },
      (error: unknown) => {
        this.#release(started, inflight, error);
        throw error;
      },
    );
  }

  /**
   * Queues a call. It starts from a continuation registered here, in its caller's async
   * context, once a slot is handed to it: not from the call that freed the slot, whose
   * context (AsyncLocalStorage: a request's logger, OpenTelemetry's active span) it would
   * otherwise run in. Each start is its own microtask, so no length of queue grows the stack.
   */
  #enqueue<T>(fn: PolicyFn<T>, context: ExecuteContext): Promise<T> {
    const signal = context.signal;
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise<void>((admit, reject) => {
      const waiter = new QueuedCall(this, admit, reject);
      waiter.prev = this.#tail;
      if (this.#tail) this.#tail.next = waiter;
      else this.#head = waiter;
      this.#tail = waiter;
      this.#queued++;
      if (signal !== neverAborted) {
        waiter.signal = signal;
        followAbort(signal, waiter);
      }
      const maxQueueMs = this.#opts.maxQueueMs;
      if (maxQueueMs !== Number.POSITIVE_INFINITY) {
        const now = this.#clock.now();
        if (now < this.#last) {
          // Stepped back since the last reading: the waiters move by the step as far as known.
          this.#rebase(this.#last - now);
          if (this.#expiry !== undefined) this.#clock.clearTimeout(this.#expiry);
          this.#expiry = undefined;
        }
        this.#last = now;
        waiter.deadline = now + maxQueueMs;
        if (this.#expiry === undefined) this.#arm(this.#head!.deadline, now);
      }
    }).then(() => this.#exec(fn, context));
  }

  /** Moves every waiter's deadline back by `step` (the clock stepped back), so each keeps its wait. */
  #rebase(step: number): void {
    for (let waiter = this.#head; waiter !== undefined; waiter = waiter.next) waiter.deadline -= step;
  }

  #arm(due: number, now: number): void {
    this.#due = due;
    this.#expiry = this.#clock.setTimeout(this.#expire, due - now);
  }

  /** Rejects the waiters whose `maxQueueMs` ran out (the oldest first), then waits for the next one. */
  readonly #expire = (): void => {
    this.#expiry = undefined;
    const now = this.#clock.now();
    // The timer waited real time: a clock that reads earlier than at the last reading stepped
    // back, by as much as it reads short of the due time.
    if (now < this.#last) this.#rebase(this.#due - now);
    this.#last = now;
    for (let head = this.#head; head !== undefined && head.deadline <= now; head = this.#head) {
      this._leave(head);
      const signal = head.signal;
      if (signal !== undefined) {
        head.signal = undefined;
        unfollowAbort(signal, head);
      }
      head.reject(this.#rejection());
    }
    if (this.#head !== undefined) this.#arm(this.#head.deadline, now);
  };

  /**
   * A call finished: learn from it, then hand free slots to the oldest waiters (several when
   * an adaptive limit grew). Admitting a waiter only schedules its start, so no user code
   * runs inside this loop. A call cancelled by its caller (`classify`: `cancelled`) is no
   * sample, as Envoy's adaptive concurrency and Netflix's `onIgnore` treat it: how soon the
   * caller gave up says nothing of the load.
   */
  #release(started: number, inflight: number, error?: unknown): void {
    this.#active--;
    const adaptive = this.#adaptive;
    if (adaptive !== undefined && (error === undefined || classify(error) !== 'cancelled')) {
      const now = this.#clock.now();
      this.#limitState = adaptive.next(this.#limitState, { rttMs: Math.max(0, now - started), inflight }, now);
      this.#limit = adaptive.limitOf(this.#limitState);
    }
    for (let next = this.#head; next !== undefined && this.#active < this.#limit; next = this.#head) {
      this._leave(next);
      const signal = next.signal;
      if (signal !== undefined) {
        next.signal = undefined;
        unfollowAbort(signal, next);
      }
      this.#active++;
      next.admit();
    }
  }

  // @internal Unlinks a waiter from the queue.
  _leave(waiter: QueuedCall): void {
    const { prev, next } = waiter;
    if (prev) prev.next = next;
    else this.#head = next;
    if (next) next.prev = prev;
    else this.#tail = prev;
    waiter.prev = waiter.next = undefined;
    this.#queued--;
    if (this.#queued === 0 && this.#expiry !== undefined) {
      this.#clock.clearTimeout(this.#expiry);
      this.#expiry = undefined;
    }
  }
}

/**
 * A concurrency limit with an optional FIFO queue. With `limit: adaptiveLimit(...)` it sheds
 * load: the limit follows the calls' latency (see `docs/load-shedding.md`).
 *
 * @example
 * const pool = bulkhead({ limit: 10, queue: 100 });
 * const rows = await pool.execute(({ signal }) => db.query(sql, { signal }));
 */
export function bulkhead(options: BulkheadOptions): BulkheadPolicy {
  return new BulkheadPolicy(options);
}
