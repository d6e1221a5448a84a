import { type AbortFollower, followAbort, unfollowAbort } from '@resilience/core/internal';

/**
 * The combined signal's own controller, as a property of the signal: whoever still holds the
 * signal (undici, while a body streams) keeps the controller, so the signal can still abort.
 */
const CONTROLLER = Symbol('resilience.bodySignal.controller');

/** Unfollows both sources once the combined signal is collected: nobody can abort or read it any more. */
const unused = new FinalizationRegistry<BothSources>((follower) => follower.stop());

/**
 * Follows the caller's signal and the attempt's (each through core's one listener per signal)
 * for one combined signal, which it holds only through a `WeakRef`: the caller's long-lived
 * signal reaches this follower, never the combined signal, its controller or the response.
 */
class BothSources implements AbortFollower {
  readonly #controller: WeakRef<AbortController>;

  constructor(
    readonly caller: AbortSignal,
    readonly attempt: AbortSignal,
    controller: AbortController,
  ) {
    this.#controller = new WeakRef(controller);
    followAbort(caller, this);
    followAbort(attempt, this);
    unused.register(controller.signal, this, this);
  }

  /** A source aborted: the caller's reason if it did (its abort also aborts the attempt's), else the attempt's. */
  handleEvent(): void {
    this.stop();
    const reason = this.caller.aborted ? this.caller.reason : this.attempt.reason;
    this.#controller.deref()?.abort(reason);
  }

  stop(): void {
    unfollowAbort(this.caller, this);
    unfollowAbort(this.attempt, this);
    unused.unregister(this);
  }
}

/**
 * A signal that aborts when `caller` or `attempt` does, with that one's reason — at once if
 * one already has. `AbortSignal.any` does the same, but on Node 20 it leaves an entry on the
 * source signal that collection never removes (nodejs/node#55351), so one app-wide caller
 * signal grew by one per request; here the sources forget the signal once it aborted or once
 * it was collected.
 */
export function bodySignal(caller: AbortSignal, attempt: AbortSignal): AbortSignal {
  const controller = new AbortController();
  const signal = controller.signal as AbortSignal & { [CONTROLLER]?: AbortController };
  signal[CONTROLLER] = controller;
  if (caller.aborted) controller.abort(caller.reason);
  else if (attempt.aborted) controller.abort(attempt.reason);
  else new BothSources(caller, attempt, controller);
  return signal;
}
