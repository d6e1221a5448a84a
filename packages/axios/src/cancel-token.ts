import type { ClientAttempt } from '@resilience/core';
import type { CancelToken } from 'axios';

type Listener = (reason?: unknown) => void;

/**
 * The cancel token axios' own adapters accept (http and xhr `subscribe` and `unsubscribe`,
 * fetch `toAbortSignal`), over the attempt's `onAbort`. Cancelling through it creates no
 * `AbortSignal`, which a built-in adapter would otherwise read on every attempt (~10 µs on
 * Node 20); the fetch adapter gets the attempt's real signal. Listeners are called with no
 * reason, so the adapter rejects with the `CanceledError` an aborted signal gives.
 */
export class AttemptCancelToken {
  readonly #attempt: ClientAttempt;
  #listeners: Listener[] | undefined;
  #off: (() => void) | undefined;
  #cancelled = false;

  constructor(attempt: ClientAttempt) {
    this.#attempt = attempt;
  }

  subscribe(listener: Listener): void {
    if (this.#cancelled) {
      listener();
      return;
    }
    if (this.#listeners === undefined) this.#listeners = [listener];
    else this.#listeners.push(listener);
    this.#off ??= this.#attempt.onAbort(() => this.#cancel());
  }

  unsubscribe(listener: Listener): void {
    const listeners = this.#listeners;
    if (listeners === undefined) return;
    if (listeners.length > 1) {
      const index = listeners.indexOf(listener);
      if (index >= 0) listeners.splice(index, 1);
      return;
    }
    if (listeners[0] !== listener) return;
    this.#listeners = undefined; // the last one (an axios adapter subscribes one): no search, no splice
    this.#off?.();
    this.#off = undefined;
  }

  /**
   * Nothing to throw: the token cancels only the adapter's request. axios' `dispatchRequest`
   * asks the config's token after the adapter settles (the first attempt's token is on the
   * request's own config): the attempt's error, a `TimeoutError`, is the answer then.
   */
  throwIfRequested(): void {}

  toAbortSignal(): AbortSignal {
    return this.#attempt.signal!; // given only to an attempt that can be aborted
  }

  #cancel(): void {
    this.#cancelled = true;
    this.#off = undefined;
    const listeners = this.#listeners ?? [];
    this.#listeners = undefined;
    for (const listener of listeners) listener();
  }

  /** As the `cancelToken` of a request config. */
  get token(): CancelToken {
    return this as unknown as CancelToken;
  }
}

/**
 * A signal that aborts, with the token's reason (axios' `CanceledError`), when the caller's
 * `cancelToken` cancels, or with the signal's reason when the caller's `signal` aborts: the
 * request's signal for the client, so a cancelled token ends a wait between attempts at once.
 * Made only for a request with a token; `stop` unsubscribes once the request settled.
 */
export function followToken(
  token: CancelToken,
  signal: AbortSignal | undefined,
): { readonly signal: AbortSignal; stop(): void } {
  const controller = new AbortController();
  const cancel = (reason?: unknown) => controller.abort(reason ?? token.reason);
  const abort = () => controller.abort(signal!.reason);
  token.subscribe(cancel); // at once if the token was cancelled already
  if (signal?.aborted) abort();
  else signal?.addEventListener('abort', abort, { once: true });
  return {
    signal: controller.signal,
    stop: () => {
      token.unsubscribe(cancel);
      signal?.removeEventListener('abort', abort);
    },
  };
}
