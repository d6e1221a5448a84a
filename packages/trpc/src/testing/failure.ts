// The rejection a tRPC client call must end in, for tests.
import type { TRPCClientError } from '@trpc/client';
import type { AnyTRPCRouter } from '@trpc/server';

/** The error `promise` rejects with; fails the test when it resolves instead. */
export const failure = (promise: Promise<unknown>): Promise<TRPCClientError<AnyTRPCRouter>> =>
  promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error as TRPCClientError<AnyTRPCRouter>,
  );
