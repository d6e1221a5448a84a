import type { ClientAttempt } from '@resilience/core';
import { type AbortFollower, followAbort, unfollowAbort } from '@resilience/core/internal';
import axios, { type CancelToken } from 'axios';

type Listener = (reason?: unknown) => void;

/**
 * The cancel token axios' own adapters accept (http and xhr `subscribe` and `unsubscribe`,
 * fetch `toAbortSignal`), over the attempt's `onAbort`. Cancelling through it creates no
 * `AbortSignal`, which a built-in adapter would otherwise read on every attempt (~10 µs on
 * Node 20); the fetch adapter gets a real signal of the attempt's (`toAbortSignal`). Listeners are called with no
 * reason, so the adapter rejects with the `CanceledError` an aborted signal gives — except
 * when the caller's `cancelToken` cancelled: its own `CanceledError` (its message) is passed
 * on, as axios does when the adapter follows the token itself.
 */
export class AttemptCancelToken {
  readonly #attempt: ClientAttempt;
  #listeners: Listener[] | undefined;
  #off: (() => void) | undefined;
  #cancelled = false;
  #reason: unknown;

  constructor(attempt: ClientAttempt) {
    this.#attempt = attempt;
  }

  subscribe(listener: Listener): void {
    if (this.#cancelled) {
      listener(this.#reason);
      return;
    }
    if (this.#listeners === undefined) this.#listeners = [listener];
    else this.#listeners.push(listener);
    this.#off ??= this.#attempt.onAbort((reason) => this.#cancel(reason));
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

  /**
   * The fetch adapter's: a signal of this attempt's own, told through `onAbort` with the
   * attempt's reason. Not the attempt's `signal`, which for an untimed attempt is the caller's
   * own: the adapter listens to the signal it gets, so a caller's long-lived signal held a
   * listener per request in flight; through `onAbort` it holds one. As with axios' own
   * token, the signal's `unsubscribe` (which the adapter calls once the response, or its
   * streamed body, is done) stops following.
   */
  toAbortSignal(): AbortSignal {
    const controller = new AbortController();
    const signal = controller.signal as AbortSignal & { unsubscribe?: () => void };
    signal.unsubscribe = this.#attempt.onAbort((reason) => controller.abort(reason));
    return signal;
  }

  #cancel(reason: unknown): void {
    this.#cancelled = true;
    this.#reason = axios.isCancel(reason) ? reason : undefined;
    this.#off = undefined;
    const listeners = this.#listeners ?? [];
    this.#listeners = undefined;
    for (const listener of listeners) listener(this.#reason);
  }

  /** As the `cancelToken` of a request config. */
  get token(): CancelToken {
    return this as unknown as CancelToken;
  }
}

/** Told once when the token it follows is cancelled, with the token's reason. */
interface TokenFollower {
  cancelled(reason: unknown): void;
}

const tokenFanouts = new WeakMap<CancelToken, TokenFanout>();

/**
 * The requests following one caller token, behind the one listener subscribed to it: axios
 * keeps a token's listeners in an array, so a listener per request made an app-wide token
 * hold one per request in flight, and each unsubscribe search them all.
 */
class TokenFanout extends Set<TokenFollower> {
  constructor(readonly token: CancelToken) {
    super();
  }

  readonly cancel = (reason?: unknown): void => {
    tokenFanouts.delete(this.token);
    for (const follower of this) {
      this.delete(follower);
      follower.cancelled(reason ?? this.token.reason);
    }
  };
}

/**
 * The request's signal for the client, for a request with a `cancelToken`: it aborts with the
 * token's reason (axios' `CanceledError`) when the token cancels, or with the signal's reason
 * when the caller's `signal` aborts, so a cancelled token ends a wait between attempts at
 * once. The token and the signal each hold one listener however many requests follow them
 * (the signal through core's `followAbort`); `stop` unfollows both once the request settled.
 */
class RequestCancel implements TokenFollower, AbortFollower {
  readonly #controller = new AbortController();
  readonly #token: CancelToken;
  readonly #caller: AbortSignal | undefined;

  constructor(token: CancelToken, caller: AbortSignal | undefined) {
    this.#token = token;
    this.#caller = caller;
    if (token.reason !== undefined) this.#controller.abort(token.reason);
    else if (caller?.aborted) this.#controller.abort(caller.reason);
    else {
      let fanout = tokenFanouts.get(token);
      if (fanout === undefined) {
        fanout = new TokenFanout(token);
        tokenFanouts.set(token, fanout);
        token.subscribe(fanout.cancel);
      }
      fanout.add(this);
      if (caller !== undefined) followAbort(caller, this);
    }
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  cancelled(reason: unknown): void {
    this.stop();
    this.#controller.abort(reason);
  }

  /** The caller's signal aborted. */
  handleEvent(): void {
    this.stop();
    this.#controller.abort(this.#caller!.reason);
  }

  readonly stop = (): void => {
    const token = this.#token;
    const fanout = tokenFanouts.get(token);
    if (fanout?.delete(this) && fanout.size === 0) {
      tokenFanouts.delete(token);
      token.unsubscribe(fanout.cancel);
    }
    if (this.#caller !== undefined) unfollowAbort(this.#caller, this);
  };
}

/** Follows the caller's `cancelToken` and `signal` for one request: see {@link RequestCancel}. */
export const followToken = (
  token: CancelToken,
  signal: AbortSignal | undefined,
): { readonly signal: AbortSignal; stop(): void } => new RequestCancel(token, signal);
