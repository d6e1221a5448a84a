import { followAbort, unfollowAbort } from '../policy/abort-fanout.js';
import { type ExecuteContext, neverAborted } from '../policy/policy.js';

/**
 * The context a policy hands to one call when it may abort that call on its own (timeout,
 * hedging). Its `signal` is created lazily: no `AbortController` exists until the function
 * reads `context.signal` (a controller costs microseconds; most calls never look). Aborting
 * before anyone read it only records the reason; a later read returns an already-aborted
 * signal. Once created, the signal follows the parent context's signal (through the one
 * shared listener of `followAbort`) until the call is released, so a long-lived caller
 * signal collects no listeners.
 *
 * Each instance is one call's own signal: aborting it never touches the parent or siblings.
 */
export class LazyContext implements ExecuteContext {
  readonly attempt: number;
  readonly #parent: ExecuteContext;
  #signal: AbortSignal | undefined;
  #controller: AbortController | undefined;
  #linked: AbortSignal | undefined;
  #aborted = false;
  #reason: unknown;
  #released = false;

  constructor(parent: ExecuteContext) {
    this.#parent = parent;
    this.attempt = parent.attempt;
  }

  get signal(): AbortSignal {
    if (this.#signal !== undefined) return this.#signal;
    if (this.#aborted) return (this.#signal = AbortSignal.abort(this.#reason));
    // A call that has settled has no limit of its own any more: its caller's signal is exact.
    if (this.#released) return this.#parent.signal;
    const parent = this.#parent.signal;
    const controller = new AbortController();
    this.#controller = controller;
    this.#signal = controller.signal;
    if (parent.aborted) controller.abort(parent.reason);
    else if (parent !== neverAborted) {
      followAbort(parent, this);
      this.#linked = parent;
    }
    return controller.signal;
  }

  /** True once the policy aborted this call (not when only the parent aborted). */
  get abortedByPolicy(): boolean {
    return this.#aborted;
  }

  /** The reason given to {@link abort}. */
  get abortReason(): unknown {
    return this.#reason;
  }

  /** Aborts this call's signal (now, or when it is first read). Ignored after the first call or after release. */
  abort(reason: unknown): void {
    if (this.#aborted || this.#released) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#unlink();
    this.#controller?.abort(reason);
  }

  /** The call has settled: drop the listener on the parent signal. */
  release(): void {
    this.#released = true;
    this.#unlink();
  }

  /** The parent signal aborted (an `AbortFollower`, so no closure per call). */
  handleEvent(): void {
    const parent = this.#linked;
    this.#linked = undefined;
    this.#controller?.abort(parent?.reason);
  }

  #unlink(): void {
    const parent = this.#linked;
    if (parent !== undefined) {
      this.#linked = undefined;
      unfollowAbort(parent, this);
    }
  }
}
