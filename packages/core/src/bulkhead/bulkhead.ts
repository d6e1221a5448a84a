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
 * Limits concurrency: at most `limit` calls execute, up to `queue` wait in FIFO order, the
 * rest are rejected at once with `BulkheadRejectedError`. Memory: at most `queue` waiters.
 */
export class BulkheadPolicy extends PolicyBase<BulkheadEvent> {
  readonly name: string;
  readonly #opts: ResolvedBulkheadOptions;
  readonly #events = new Emitter<BulkheadEvent>();
  #active = 0;
  #queued = 0;
  #head: QueuedCall | undefined;
  #tail: QueuedCall | undefined;

  readonly onEvent = this.#events.subscribe;
  readonly onRejected = this.#events.subscribe;

  constructor(options: BulkheadOptions) {
    super();
    this.#opts = resolveBulkheadOptions(options);
    this.name = this.#opts.name;
  }

  /** Calls allowed to execute at once (the `limit` option). */
  get limit(): number {
    return this.#opts.limit;
  }

  /** Calls allowed to wait for a slot (the `queue` option). */
  get queue(): number {
    return this.#opts.queue;
  }

  /** Free execution slots. */
  get executionSlots(): number {
    return this.#opts.limit - this.#active;
  }

  /** Free queue slots. */
  get queueSlots(): number {
    return this.#opts.queue - this.#queued;
  }

  run<T>(fn: PolicyFn<T>, context: ExecuteContext): Promise<T> {
    if (this.#active < this.#opts.limit) {
      this.#active++;
      return this.#exec(fn, context);
    }
    if (this.#queued < this.#opts.queue) return this.#enqueue(fn, context);
    const { limit, queue } = this.#opts;
    if (this.#events.hasListeners) {
      this.#events.emit({ type: 'rejected', policy: this.name, executing: this.#active, queued: this.#queued });
    }
    return Promise.reject(new BulkheadRejectedError(limit, queue));
  }

  #exec<T>(fn: PolicyFn<T>, context: ExecuteContext): Promise<T> {
    let result: T | PromiseLike<T>;
    try {
      result = fn(context);
    } catch (error) {
      this.#release();
      return Promise.reject(error);
    }
    if (!isThenable(result)) {
      this.#release();
      return Promise.resolve(result);
    }
    return Promise.resolve(result).then(
      (value) => {
        this.#release();
        return value;
      },
      (error: unknown) => {
        this.#release();
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
    }).then(() => this.#exec(fn, context));
  }

  /** A call finished: hand its slot to the oldest waiter, or free it. */
  #release(): void {
    this.#active--;
    const next = this.#head;
    if (next === undefined) return;
    this._leave(next);
    const signal = next.signal;
    if (signal !== undefined) {
      next.signal = undefined;
      unfollowAbort(signal, next);
    }
    this.#active++;
    next.admit();
  }

  /** @internal Unlinks a waiter from the queue. */
  _leave(waiter: QueuedCall): void {
    const { prev, next } = waiter;
    if (prev) prev.next = next;
    else this.#head = next;
    if (next) next.prev = prev;
    else this.#tail = prev;
    waiter.prev = waiter.next = undefined;
    this.#queued--;
  }
}

/**
 * A concurrency limit with an optional FIFO queue.
 *
 * @example
 * const pool = bulkhead({ limit: 10, queue: 100 });
 * const rows = await pool.execute(({ signal }) => db.query(sql, { signal }));
 */
export function bulkhead(options: BulkheadOptions): BulkheadPolicy {
  return new BulkheadPolicy(options);
}
