// What every link shares: an operation's single result as a promise, and errors as tRPC's.
import { followAbort, messageOf, unfollowAbort } from '@resilience/core/internal';
import { type Operation, type OperationLink, type OperationResultEnvelope, TRPCClientError } from '@trpc/client';
import type { AnyRouter } from '@trpc/server';
import { observable } from '@trpc/server/observable';

type Link = OperationLink<AnyRouter>;
export type Envelope = OperationResultEnvelope<unknown, TRPCClientError<AnyRouter>>;

/** What `refuseSignal` says of a signal in a link's options (p-retry's habit: one for every call): where tRPC takes one. */
export const SIGNAL_HINT = 'nothing here (a signal cancels one call: client.path.query(input, { signal }))';

/**
 * A link that runs each query and mutation it `applies` to through `run`, and passes every
 * other operation (subscriptions) through untouched. `run` gets `send(op)`, which sends
 * the operation down the chain once and resolves with its result (a query's or a
 * mutation's one envelope); the link then emits it and completes. `run` also gets the
 * operation's `signal`, which aborts with the operation's own and when it is unsubscribed:
 * unsubscribing cancels the attempt in flight, ends a wait (a retry's, a timeout's timer)
 * and starts no other; the caller hears nothing more.
 */
export function promiseLink(
  applies: (op: Operation) => boolean,
  run: (op: Operation, send: (op: Operation) => Promise<Envelope>, signal: AbortSignal) => Promise<Envelope>,
): Link {
  return ({ op, next }) => {
    if (op.type === 'subscription') return next(op);
    try {
      if (!applies(op)) return next(op);
    } catch (error) {
      return observable((observer) => observer.error(asClientError(error))); // a callback of the caller's that failed
    }
    return observable((observer) => {
      let cancel: (() => void) | undefined;
      let stopped = false;
      const stop = stopper(op);
      const send = (attempt: Operation): Promise<Envelope> =>
        new Promise<Envelope>((resolve, reject) => {
          if (stopped) return reject(unsubscribed());
          const subscription = next(attempt).subscribe({
            next: resolve,
            error: reject,
            complete: () => reject(new TRPCClientError('The operation completed without a result')),
          });
          // Settles the attempt too, so what waits on it (a cooperative timeout, the breaker's count) is done.
          cancel = () => {
            subscription.unsubscribe();
            reject(unsubscribed());
          };
        });
      run(op, send, stop.signal)
        .finally(stop.release)
        .then(
          (envelope) => {
            if (stopped) return;
            observer.next(envelope);
            observer.complete();
          },
          (error: unknown) => {
            if (!stopped) observer.error(asClientError(error));
          },
        );
      return () => {
        stopped = true;
        stop.abort(unsubscribed());
        cancel?.();
      };
    });
  };
}

/** Why an operation's work stopped when it was unsubscribed. */
export const unsubscribed = () => new DOMException('The operation was unsubscribed', 'AbortError');

/** A signal for an operation's work in a link: it aborts with the operation's own and on `abort()`. */
export interface Stopper {
  readonly signal: AbortSignal;
  abort(reason: unknown): void;
  /** Stops following the operation's signal; call once the work is done. */
  release(): void;
}

/**
 * The operation's {@link Stopper}. It follows the operation's signal through core's fan-out, so
 * a signal many operations share (an app-wide shutdown signal) carries one listener, not one
 * per operation and link, and none once they are done.
 */
export function stopper(op: Operation): Stopper {
  const controller = new AbortController();
  const own = signalOf(op);
  const follower = { handleEvent: () => controller.abort(own?.reason) };
  if (own?.aborted) controller.abort(own.reason);
  else if (own) followAbort(own, follower);
  return {
    signal: controller.signal,
    abort: (reason) => controller.abort(reason),
    release: () => {
      if (own) unfollowAbort(own, follower);
    },
  };
}

/** Errors reach the caller as tRPC's own: a `TRPCClientError` as it is, anything else (`BrokenCircuitError` ...) as its cause. */
export const asClientError = (error: unknown): TRPCClientError<AnyRouter> =>
  TRPCClientError.from(error instanceof Error ? error : new Error(messageOf(error)));

/** The operation's signal, or `undefined` (tRPC passes `null` when there is none). */
export const signalOf = (op: Operation): AbortSignal | undefined => op.signal ?? undefined;
