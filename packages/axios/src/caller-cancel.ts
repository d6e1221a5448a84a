// Following the caller's own `cancelToken` and `signal`, which may outlive every request (an
// app-wide shutdown signal): each holds ONE listener however many requests follow it.
import { type AbortFollower, followAbort, unfollowAbort } from '@resilience/core/internal';
import type { CancelToken } from 'axios';

/** Told once, with the token's reason (axios' `CanceledError`), when the token it follows is cancelled. */
export interface TokenFollower {
  cancelled(reason: unknown): void;
}

const fanouts = new WeakMap<CancelToken, TokenFanout>();

/**
 * The followers of one token, behind the one listener subscribed to it: axios keeps a
 * token's listeners in an array, so a listener per request made an app-wide token hold one
 * per request in flight, and each unsubscribe search them all.
 */
class TokenFanout extends Set<TokenFollower> {
  constructor(readonly token: CancelToken) {
    super();
  }

  readonly cancel = (reason?: unknown): void => {
    fanouts.delete(this.token);
    for (const follower of this) {
      this.delete(follower);
      follower.cancelled(reason ?? this.token.reason);
    }
  };
}

/** Tells `follower` when `token` cancels: at once if it has. As core's `followAbort`, for a cancel token. */
export function followCancelToken(token: CancelToken, follower: TokenFollower): void {
  if (token.reason !== undefined) {
    follower.cancelled(token.reason);
    return;
  }
  let fanout = fanouts.get(token);
  if (fanout === undefined) {
    fanout = new TokenFanout(token);
    fanouts.set(token, fanout);
    token.subscribe(fanout.cancel);
  }
  fanout.add(follower);
}

/** Stops telling `follower` about `token` (no-op when it does not follow it). */
export function unfollowCancelToken(token: CancelToken, follower: TokenFollower): void {
  const fanout = fanouts.get(token);
  if (fanout?.delete(follower) && fanout.size === 0) {
    fanouts.delete(token);
    token.unsubscribe(fanout.cancel);
  }
}

/**
 * The request's signal for the client, for a request with a `cancelToken`: it aborts with the
 * token's reason (axios' `CanceledError`) when the token cancels, or with the signal's reason
 * when the caller's `signal` aborts, so a cancelled token ends a wait between attempts at
 * once. `stop` unfollows both once the request settled.
 */
class RequestCancel implements TokenFollower, AbortFollower {
  readonly #controller = new AbortController();
  readonly #token: CancelToken;
  readonly #caller: AbortSignal | undefined;

  constructor(token: CancelToken, caller: AbortSignal | undefined) {
    this.#token = token;
    this.#caller = caller;
    followCancelToken(token, this); // told at once if the token was cancelled
    if (caller !== undefined && !this.#controller.signal.aborted) {
      if (caller.aborted) this.handleEvent();
      else followAbort(caller, this);
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
    unfollowCancelToken(this.#token, this);
    if (this.#caller !== undefined) unfollowAbort(this.#caller, this);
  };
}

/** Follows the caller's `cancelToken` and `signal` for one request: see {@link RequestCancel}. */
export const followToken = (
  token: CancelToken,
  signal: AbortSignal | undefined,
): { readonly signal: AbortSignal; stop(): void } => new RequestCancel(token, signal);
