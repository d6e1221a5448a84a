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
 * mutation's one envelope); the link then emits it and completes. Unsubscribing cancels the
 * attempt in flight and starts no other.
 */
export function promiseLink(
  applies: (op: Operation) => boolean,
  run: (op: Operation, send: (op: Operation) => Promise<Envelope>) => Promise<Envelope>,
): Link {
  return ({ op, next }) => {
    if (op.type === 'subscription' || !applies(op)) return next(op);
    return observable((observer) => {
      let cancel: (() => void) | undefined;
      let stopped = false;
      const send = (attempt: Operation): Promise<Envelope> =>
        new Promise<Envelope>((resolve, reject) => {
          if (stopped) return reject(new DOMException('The operation was unsubscribed', 'AbortError'));
          const subscription = next(attempt).subscribe({
            next: resolve,
            error: reject,
            complete: () => reject(new TRPCClientError('The operation completed without a result')),
          });
          cancel = () => subscription.unsubscribe();
        });
      run(op, send).then(
        (envelope) => {
          observer.next(envelope);
          observer.complete();
        },
        (error: unknown) => observer.error(asClientError(error)),
      );
      return () => {
        stopped = true;
        cancel?.();
      };
    });
  };
}

/** Errors reach the caller as tRPC's own: a `TRPCClientError` as it is, anything else (`BrokenCircuitError` ...) as its cause. */
export const asClientError = (error: unknown): TRPCClientError<AnyRouter> =>
  TRPCClientError.from(error instanceof Error ? error : new Error(String(error)));

/** The operation's signal, or `undefined` (tRPC passes `null` when there is none). */
export const signalOf = (op: Operation): AbortSignal | undefined => op.signal ?? undefined;
