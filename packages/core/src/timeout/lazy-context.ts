import type { Disposer } from '../events/emitter.js';
import { followAbort, unfollowAbort } from '../policy/abort-fanout.js';
import { type ExecuteContext, neverAborted } from '../policy/policy.js';

/** Told once, with the reason, when a call is aborted. */
export type AbortListener = (reason: unknown) => void;

const nothing: Disposer = () => {};

/** Whether a call's context has aborted, read without making a lazy signal. */
export const isContextAborted = (context: ExecuteContext): boolean =>
  context instanceof LazyContext ? context.aborted : context.signal.aborted;

// While the signal exists or someone listens, the context follows the parent context until
// the call is released: a caller's signal through the one shared listener of `followAbort`
// (so a long-lived caller signal collects no listeners), a lazy parent (a deadline around
// an attempt timeout) through its `onAbort`, so the parent creates no signal either.
/**
 * The context a policy hands to one call it may abort on its own (timeout, hedging): its
 * `signal` is made when first read ({@link onAbort} makes none). Aborting it never touches
 * the parent or siblings.
 */
export class LazyContext implements ExecuteContext {
  readonly attempt: number;
  // The caller's context this one follows.
  readonly parent: ExecuteContext;
  #signal: AbortSignal | undefined;
  #controller: AbortController | undefined;
  #listeners: AbortListener[] | undefined;
  /** The parent's signal, followed through `followAbort`. */
  #linked: AbortSignal | undefined;
  /** Stops following a lazy parent (followed through its `onAbort`, so its signal is not created). */
  #parentOff: Disposer | undefined;
  #aborted = false;
  #reason: unknown;
  #released = false;

  constructor(parent: ExecuteContext) {
    this.parent = parent;
    this.attempt = parent.attempt;
  }

  get signal(): AbortSignal {
    if (this.#signal !== undefined) return this.#signal;
    if (this.#aborted) return (this.#signal = AbortSignal.abort(this.#reason));
    // A call that has settled has no limit of its own any more: its caller's signal is exact.
    if (this.#released) return this.parent.signal;
    const controller = new AbortController();
    this.#controller = controller;
    this.#signal = controller.signal;
    this.#follow(); // aborts the controller at once when the parent has aborted
    return controller.signal;
  }

  /**
   * Tells `listener` once, with the reason, when this call is aborted (at once if it is already),
   * without creating a signal; returns the disposer.
   */
  onAbort(listener: AbortListener): Disposer {
    if (this.#aborted) {
      listener(this.#reason);
      return nothing;
    }
    if (this.#released) return onContextAbort(this.parent, listener);
    if (this.#listeners === undefined) this.#listeners = [listener];
    else this.#listeners.push(listener);
    this.#follow(); // tells the listener at once when the parent has aborted
    return () => this.#unsubscribe(listener);
  }

  // Whether this call or a parent has aborted, read without making a signal.
  get aborted(): boolean {
    const p = this.parent;
    return this.#signal?.aborted ?? (this.#aborted || isContextAborted(p));
  }

  // True once the policy aborted this call (not when only the parent aborted).
  get abortedByPolicy(): boolean {
    return this.#aborted;
  }

  // The reason given to `abort`.
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
    this.#tell(reason);
  }

  /** The call has settled: drop the listener on the parent signal and every `onAbort` listener. */
  release(): void {
    this.#released = true;
    this.#listeners = undefined;
    this.#unlink();
  }

  // The parent signal aborted (an `AbortFollower`, so no closure per call).
  handleEvent(): void {
    this.#parentAborted(this.#linked?.reason);
  }

  #parentAborted(reason: unknown): void {
    this.#linked = undefined;
    this.#parentOff = undefined;
    this.#controller?.abort(reason);
    this.#tell(reason);
  }

  /** Starts following the parent, once; a parent that has aborted already aborts this call now. */
  #follow(): void {
    if (this.#linked !== undefined || this.#parentOff !== undefined) return;
    const parent = this.parent;
    if (parent instanceof LazyContext) {
      let told = false; // the parent had aborted: it told us at once
      const off = parent.onAbort((reason) => {
        told = true;
        this.#parentAborted(reason);
      });
      if (!told) this.#parentOff = off;
      return;
    }
    const signal = parent.signal;
    if (signal === neverAborted) return;
    if (signal.aborted) {
      this.#parentAborted(signal.reason);
      return;
    }
    followAbort(signal, this);
    this.#linked = signal;
  }

  #unsubscribe(listener: AbortListener): void {
    const listeners = this.#listeners;
    if (listeners === undefined) return;
    if (listeners.length === 1) {
      // The usual case, a single listener: the list goes, with no search and no splice.
      if (listeners[0] !== listener) return;
      this.#listeners = undefined;
    } else {
      const index = listeners.indexOf(listener);
      if (index >= 0) listeners.splice(index, 1);
      return; // others still listen
    }
    if (this.#controller === undefined) this.#unlink();
  }

  /** Tells the listeners; one that throws is reported as uncaught (as an `EventTarget` does) and the others are still told. */
  #tell(reason: unknown): void {
    const listeners = this.#listeners;
    if (listeners === undefined) return;
    this.#listeners = undefined;
    for (const listener of listeners) {
      try {
        listener(reason);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }

  #unlink(): void {
    const off = this.#parentOff;
    if (off !== undefined) {
      this.#parentOff = undefined;
      off();
    }
    const parent = this.#linked;
    if (parent !== undefined) {
      this.#linked = undefined;
      unfollowAbort(parent, this);
    }
  }
}

/**
 * Tells `listener` once, with the reason, when `context` aborts; returns the function that
 * stops telling it. On a {@link LazyContext} no signal is created; on any other context the
 * signal it already has is followed (nothing at all when nothing can abort it).
 */
export function onContextAbort(context: ExecuteContext, listener: AbortListener): Disposer {
  if (context instanceof LazyContext) return context.onAbort(listener);
  const signal = context.signal;
  if (signal === neverAborted) return nothing;
  if (signal.aborted) {
    listener(signal.reason);
    return nothing;
  }
  const follower = { handleEvent: () => listener(signal.reason) };
  followAbort(signal, follower);
  return () => unfollowAbort(signal, follower);
}

/** Whether anything can abort a call under `context`: a policy of its own, or a caller's signal. */
export const isAbortable = (context: ExecuteContext): boolean =>
  context instanceof LazyContext || context.signal !== neverAborted;
