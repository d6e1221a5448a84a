import { type Clock, systemClock } from '../clock/clock.js';
import type { AdaptiveLimit, AdaptiveLimitState } from '../concurrency/adaptive-limit.js';
import { classify } from '../errors/classify.js';
import { BulkheadRejectedError, isOwnRejection } from '../errors/errors.js';
import { Emitter } from '../events/emitter.js';
import { followAbort, unfollowAbort } from '../policy/abort-fanout.js';
import { type ExecuteContext, neverAborted, PolicyBase, type PolicyFn } from '../policy/policy.js';
import { type DeadlineEntry, DeadlineQueue } from '../timeout/deadline-queue.js';
import { type BulkheadOptions, type ResolvedBulkheadOptions, resolveBulkheadOptions } from './options.js';

/** A call turned away because every execution slot and queue slot was taken. */
export type BulkheadEvent = { type: 'rejected'; policy: string; executing: number; queued: number };

// A call waiting for an execution slot: a node of the FIFO queue, and of `maxQueueMs`'s deadlines.
class QueuedCall implements DeadlineEntry {
  older: QueuedCall | undefined = undefined;
  newer: QueuedCall | undefined = undefined;
  signal: AbortSignal | undefined = undefined;
  deadline = 0;
  prev: DeadlineEntry | undefined = undefined;
  next: DeadlineEntry | undefined = undefined;
  queue: DeadlineQueue | undefined = undefined;

  constructor(
    readonly owner: BulkheadPolicy,
    // Gives the call its slot; the call then starts from its caller's continuation.
    readonly admit: () => void,
    readonly reject: (error: unknown) => void,
  ) {}

  // The caller's signal aborted while queued: leave the queue at once.
  handleEvent(): void {
    const signal = this.signal;
    this.signal = undefined;
    this.owner._leave(this);
    this.reject(signal?.reason);
  }

  // Its `maxQueueMs` ran out: leave the queue rejected.
  expire(): void {
    this.owner._expire(this);
  }
}

const isThenable = (v: unknown): v is PromiseLike<unknown> =>
  v !== null &&
  (typeof v === 'object' || typeof v === 'function') &&
  typeof (v as { then?: unknown }).then === 'function';

/**
 * Limits concurrency: `limit` calls run, up to `queue` wait (FIFO, `maxQueueMs` at most), the
 * rest are rejected at once with `BulkheadRejectedError`.
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
  /** The waiters' `maxQueueMs` deadlines, on one timer (none without `maxQueueMs`). */
  readonly #deadlines: DeadlineQueue | undefined;

  readonly onEvent = this.#events.subscribe;
  readonly onRejected = this.#events.subscribe;

  constructor(options: BulkheadOptions) {
    super();
    this.#opts = resolveBulkheadOptions(options);
    this.name = this.#opts.name;
    this.#clock = options.clock ?? systemClock;
    this.#adaptive = this.#opts.adaptive;
    this.#limit = this.#opts.limit;
    this.#deadlines = this.#opts.maxQueueMs === Number.POSITIVE_INFINITY ? undefined : new DeadlineQueue(this.#clock);
  }

  /** Calls allowed to execute at once now: the `limit` option, or what the adaptive limit allows. */
  get limit(): number {
    return this.#limit;
  }

  /** The adaptive limit's state; `undefined` for a fixed limit or before the first call. */
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

  #rejection(message?: string): BulkheadRejectedError {
    if (this.#events.hasListeners) {
      this.#events.emit({ type: 'rejected', policy: this.name, executing: this.#active, queued: this.#queued });
    }
    return new BulkheadRejectedError(this.#limit, this.#opts.queue, this.#opts.retryAfterMs, message);
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
      waiter.older = this.#tail;
      if (this.#tail) this.#tail.newer = waiter;
      else this.#head = waiter;
      this.#tail = waiter;
      this.#queued++;
      if (signal !== neverAborted) {
        waiter.signal = signal;
        followAbort(signal, waiter);
      }
      if (this.#deadlines !== undefined) {
        const now = this.#clock.now();
        this.#deadlines.add(waiter, now + this.#opts.maxQueueMs, now);
      }
    }).then(() => {
      if (!signal.aborted) return this.#exec(fn, context);
      // Its caller left after the slot was handed over, before the call started: it runs nothing.
      this.#handOver();
      throw signal.reason;
    });
  }

  // @internal A waiter's `maxQueueMs` ran out (it has left the deadline queue).
  _expire(waiter: QueuedCall): void {
    this._leave(waiter);
    const signal = waiter.signal;
    if (signal !== undefined) {
      waiter.signal = undefined;
      unfollowAbort(signal, waiter);
    }
    const { maxQueueMs, queue } = this.#opts;
    waiter.reject(
      this.#rejection(
        `Waited maxQueueMs (${maxQueueMs} ms) for a bulkhead slot (limit ${this.#limit}, queue ${queue})`,
      ),
    );
  }

  /**
   * A call finished: learn from it, then hand free slots to the oldest waiters (several when
   * an adaptive limit grew). Admitting a waiter only schedules its start, so no user code
   * runs inside this loop. A call cancelled by its caller (`classify`: `cancelled`) is no
   * sample, as Envoy's adaptive concurrency and Netflix's `onIgnore` treat it: how soon the
   * caller gave up says nothing of the load. Nor is one an own policy refused inside the
   * bulkhead (a rate limit: `isOwnRejection`): it never reached the dependency.
   */
  #release(started: number, inflight: number, error?: unknown): void {
    const adaptive = this.#adaptive;
    if (
      adaptive !== undefined &&
      (error === undefined || !(isOwnRejection(error) || classify(error) === 'cancelled'))
    ) {
      const now = this.#clock.now();
      this.#limitState = adaptive.next(this.#limitState, { rttMs: Math.max(0, now - started), inflight }, now);
      this.#limit = adaptive.limitOf(this.#limitState);
    }
    this.#handOver();
  }

  /** Frees a slot, and hands free slots to the oldest waiters. */
  #handOver(): void {
    this.#active--;
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

  // @internal Unlinks a waiter from the queue, and from its deadline's.
  _leave(waiter: QueuedCall): void {
    const { older, newer } = waiter;
    if (older) older.newer = newer;
    else this.#head = newer;
    if (newer) newer.older = older;
    else this.#tail = older;
    waiter.older = waiter.newer = undefined;
    this.#queued--;
    this.#deadlines?.remove(waiter);
    if (this.#queued === 0) this.#deadlines?.release(); // an idle bulkhead holds no timer
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
