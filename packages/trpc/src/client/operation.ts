// What every link shares: an operation's single result as a promise, and errors as tRPC's.
import { type Operation, type OperationLink, type OperationResultEnvelope, TRPCClientError } from '@trpc/client';
import type { AnyRouter } from '@trpc/server';
import { observable } from '@trpc/server/observable';

type Link = OperationLink<AnyRouter>;
export type Envelope = OperationResultEnvelope<unknown, TRPCClientError<AnyRouter>>;

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
    if (op.type === 'subscription' || !applies(op)) return next(op);
    return observable((observer) => {
      let cancel: (() => void) | undefined;
      let stopped = false;
      const stop = new AbortController();
      const own = signalOf(op);
      const follow = () => stop.abort(own?.reason);
      if (own?.aborted) follow();
      else own?.addEventListener('abort', follow, { once: true });
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
        .finally(() => own?.removeEventListener('abort', follow))
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

const unsubscribed = () => new DOMException('The operation was unsubscribed', 'AbortError');

/** Errors reach the caller as tRPC's own: a `TRPCClientError` as it is, anything else (`BrokenCircuitError` ...) as its cause. */
export const asClientError = (error: unknown): TRPCClientError<AnyRouter> =>
  TRPCClientError.from(error instanceof Error ? error : new Error(String(error)));

/** The operation's signal, or `undefined` (tRPC passes `null` when there is none). */
export const signalOf = (op: Operation): AbortSignal | undefined => op.signal ?? undefined;
