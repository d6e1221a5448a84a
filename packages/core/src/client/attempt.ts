import type { Disposer } from '../events/emitter.js';
import { type ExecuteContext, neverAborted } from '../policy/policy.js';
import { isAbortable, onContextAbort } from '../timeout/lazy-context.js';

/** What one attempt receives: its number, a generated `Idempotency-Key`, and its cancellation. */
export interface ClientAttempt {
  /** Aborts with the caller's signal or a time limit (`undefined`: nothing can). Made when read: prefer {@link onAbort}. */
  readonly signal: AbortSignal | undefined;
  /** Whether anything can abort the attempt (the caller's signal, a time limit): `signal` is then defined. */
  readonly abortable: boolean;
  /** Tells `listener` once, with the reason, when the attempt aborts (at once if it has); returns its disposer. */
  onAbort(listener: (reason: unknown) => void): Disposer;
  /** 1 for the first attempt, incremented by each retry. */
  readonly attempt: number;
  /** The `Idempotency-Key` header to send (the same on every attempt), if one was generated. */
  readonly idempotencyKey?: string;
}

/** One attempt over the context the attempt's policies handed down. */
export class Attempt implements ClientAttempt {
  readonly attempt: number;
  declare readonly idempotencyKey?: string;
  readonly #context: ExecuteContext;

  constructor(context: ExecuteContext, idempotencyKey: string | undefined) {
    this.#context = context;
    this.attempt = context.attempt;
    if (idempotencyKey !== undefined) (this as { idempotencyKey?: string }).idempotencyKey = idempotencyKey;
  }

  get signal(): AbortSignal | undefined {
    const signal = this.#context.signal;
    return signal === neverAborted ? undefined : signal;
  }

  get abortable(): boolean {
    return isAbortable(this.#context);
  }

  onAbort(listener: (reason: unknown) => void): Disposer {
    return onContextAbort(this.#context, listener);
  }
}
