import { unrecorded } from '@resilience/core';
import { createTRPCClient, httpLink } from '@trpc/client';
import { initTRPC } from '@trpc/server';
import { describe, expectTypeOf, it } from 'vitest';
import { circuitBreakerLink, retryLink, timeoutLink } from './client.js';
import { errorFormatter, idempotentMutation, timeoutMiddleware } from './server.js';

describe('@resilience/trpc types', () => {
  const t = initTRPC.context<{ userId: string }>().create({ errorFormatter: errorFormatter() });

  it('timeoutMiddleware adds ctx.signal and keeps the rest of the context', () => {
    t.procedure.use(timeoutMiddleware({ ms: 1_000 })).query(({ ctx }) => {
      expectTypeOf(ctx.signal).toEqualTypeOf<AbortSignal>();
      expectTypeOf(ctx.userId).toEqualTypeOf<string>();
      return 1;
    });
  });

  it('idempotentMutation takes the procedure’s resolver options and keeps its output', () => {
    const router = t.router({
      pay: t.procedure
        .input((raw) => raw as { idempotencyKey: string; amount: number })
        .mutation(
          idempotentMutation({ scope: ({ ctx }) => ctx.userId }, ({ input }) => {
            expectTypeOf(input.amount).toEqualTypeOf<number>();
            return { paid: input.amount };
          }),
        ),
    });
    const client = createTRPCClient<typeof router>({
      links: [
        retryLink(),
        circuitBreakerLink({ breaker: {} }),
        timeoutLink({ ms: 1_000 }),
        httpLink({ url: 'http://x' }),
      ],
    });
    const pay = () => client.pay.mutate({ idempotencyKey: 'k', amount: 1 }); // typed, never called
    expectTypeOf(pay).returns.resolves.toEqualTypeOf<{ paid: number }>();
  });

  it('idempotentMutation outputs the value of an unrecorded() result, not the marker', () => {
    const router = t.router({
      pay: t.procedure
        .input((raw) => raw as { idempotencyKey: string; amount: number })
        .mutation(
          idempotentMutation({}, async ({ input }) =>
            input.amount > 100 ? unrecorded({ paid: 0 }, 'declined') : { paid: input.amount },
          ),
        ),
    });
    const client = createTRPCClient<typeof router>({ links: [httpLink({ url: 'http://x' })] });
    const pay = () => client.pay.mutate({ idempotencyKey: 'k', amount: 1 }); // typed, never called
    expectTypeOf(pay).returns.resolves.toEqualTypeOf<{ paid: number }>();
  });

  it('idempotentMutation takes superjson as its transformer, and not tRPC’s { input, output } pair', () => {
    // superjson's own signatures: a value of its kinds in, its { json, meta } out.
    type Result = { json: unknown; meta?: object };
    const superjson = {} as {
      serialize(object: string | number | bigint | Date | Map<unknown, unknown> | object): Result;
      deserialize<T = unknown>(payload: Result): T;
    };
    const build = () => {
      idempotentMutation({ transformer: superjson }, () => 1);
      // @ts-expect-error a combined transformer is not one: give its `output` (or superjson itself).
      idempotentMutation({ transformer: { input: superjson, output: superjson } }, () => 1);
    };
    expectTypeOf(build).toBeFunction(); // typed, never called
  });

  it('errorFormatter adds data.retryAfterMs to the error shape', () => {
    const format = errorFormatter();
    expectTypeOf<ReturnType<typeof format>['data']['retryAfterMs']>().toEqualTypeOf<number | undefined>();
  });
});
