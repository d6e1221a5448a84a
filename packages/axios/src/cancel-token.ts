import type { ClientAttempt } from '@resilience/core';
import { type AbortFollower, followAbort, unfollowAbort } from '@resilience/core/internal';
import axios, { type CancelToken } from 'axios';
import { followCancelToken, type TokenFollower, unfollowCancelToken } from './caller-cancel.js';

type Listener = (reason?: unknown) => void;

/** The caller's own signal and token, which end a streamed body after its attempt settled. */
export interface BodyCancel {
  readonly signal: AbortSignal | undefined;
  readonly token: CancelToken | undefined;
}

/**
 * The cancel token axios' own adapters accept (http and xhr `subscribe` and `unsubscribe`,
 * fetch `toAbortSignal`), over the attempt's `onAbort`. Cancelling through it creates no
 * `AbortSignal`, which a built-in adapter would otherwise read on every attempt (~10 µs on
 * Node 20); the fetch adapter gets a real signal of the attempt's (`toAbortSignal`).
 * Listeners are called with no reason, so the adapter rejects with the `CanceledError` an
 * aborted signal gives — except when the caller's `cancelToken` cancelled: its own
 * `CanceledError` (its message) is passed on, as axios does when the adapter follows the
 * token itself.
 *
 * A streamed body (`responseType: 'stream'`) outlives its attempt: given `body`, the token
 * also follows the caller's signal and token for as long as the adapter listens (the http
 * adapter until the body ends), each through one listener however many requests follow it —
 * the adapter, given them, would listen to them once per request.
 */
export class AttemptCancelToken implements AbortFollower, TokenFollower {
  readonly #attempt: ClientAttempt;
  readonly #body: BodyCancel | undefined;
  #listeners: Listener[] | undefined;
  #off: (() => void) | undefined;
  #cancelled = false;
  /** Why it was cancelled (a `TimeoutError`, the caller's reason), and what listeners are told: only a token's `CanceledError`. */
  #reason: unknown;
  #told: unknown;

  constructor(attempt: ClientAttempt, body?: BodyCancel) {
    this.#attempt = attempt;
    this.#body = body;
  }

  subscribe(listener: Listener): void {
    if (this.#cancelled) {
      listener(this.#told);
      return;
    }
    if (this.#listeners === undefined) this.#listeners = [listener];
    else this.#listeners.push(listener);
    if (this.#off === undefined) {
      this.#off = this.#attempt.onAbort((reason) => {
        this.#off = undefined; // told: nothing to stop
        this.#cancel(reason);
      });
      this.#follow();
    }
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
    this.#unfollow();
  }

  /**
   * Nothing to throw: the token cancels only the adapter's request. axios' `dispatchRequest`
   * asks the config's token after the adapter settles (the first attempt's token is on the
   * request's own config): the attempt's error, a `TimeoutError`, is the answer then.
   */
  throwIfRequested(): void {}

  /**
   * The fetch adapter's: a signal of this attempt's own, which aborts with the attempt's
   * reason. Not the attempt's `signal`, which for an untimed attempt is the caller's own: the
   * adapter listens to the signal it gets, so a caller's long-lived signal held a listener
   * per request in flight. As with axios' own token, the signal's `unsubscribe` (which the
   * adapter calls once the response, or its streamed body, is done) stops following.
   */
  toAbortSignal(): AbortSignal {
    const controller = new AbortController();
    const signal = controller.signal as AbortSignal & { unsubscribe?: () => void };
    const listener = () => controller.abort(this.#reason);
    this.subscribe(listener);
    signal.unsubscribe = () => this.unsubscribe(listener);
    return signal;
  }

  /** The caller's signal aborted, during a streamed body. */
  handleEvent(): void {
    this.#cancel(this.#body!.signal!.reason);
  }

  /** The caller's token cancelled, during a streamed body. */
  cancelled(reason: unknown): void {
    this.#cancel(reason);
  }

  #follow(): void {
    const body = this.#body;
    if (body?.token !== undefined) followCancelToken(body.token, this);
    const signal = body?.signal;
    if (signal === undefined || this.#cancelled) return;
    if (signal.aborted) this.handleEvent();
    else followAbort(signal, this);
  }

  #unfollow(): void {
    const body = this.#body;
    if (body?.token !== undefined) unfollowCancelToken(body.token, this);
    if (body?.signal !== undefined) unfollowAbort(body.signal, this);
  }

  #cancel(reason: unknown): void {
    if (this.#cancelled) return;
    this.#cancelled = true;
    this.#reason = reason;
    this.#told = axios.isCancel(reason) ? reason : undefined;
    this.#off?.(); // the caller's signal or token told it, during a streamed body
    this.#off = undefined;
    this.#unfollow();
    const listeners = this.#listeners ?? [];
    this.#listeners = undefined;
    for (const listener of listeners) listener(this.#told);
  }

  /** As the `cancelToken` of a request config. */
  get token(): CancelToken {
    return this as unknown as CancelToken;
  }
}
