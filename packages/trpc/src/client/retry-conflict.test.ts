// retryLink and a 409 CONFLICT: the answer to a key whose first call still runs, which the
// idempotency-key draft tells the client to retry later; any other 409 is not retried.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { backoff, errorResponse, IdempotencyConflictError, idempotency } from '@resilience/core';
import { FakeClock } from '@resilience/core/testing';
import { createTRPCClient, httpLink } from '@trpc/client';
import { initTRPC, TRPCError } from '@trpc/server';
import { createHTTPHandler } from '@trpc/server/adapters/standalone';
import { afterEach, describe, expect, it } from 'vitest';
import { until } from '../../../fetch/src/testing/server.js';
import { retryLink } from '../client.js';
import { errorFormatter, idempotentMutation, responseMeta, timeoutMiddleware } from '../server.js';
import { failure } from '../testing/failure.js';
import { startServer, type TestServer } from '../testing/server.js';

let server: TestServer | undefined;
let front: Server | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
  front?.closeAllConnections();
  await new Promise((resolve) => (front ? front.close(resolve) : resolve(undefined)));
  front = undefined;
});

const t = initTRPC.create({ errorFormatter: errorFormatter() });

/** A retryLink on the fake clock, 100 ms between attempts, counting its retries. */
function retrying(clock: FakeClock) {
  const heard = { retries: 0 };
  const link = retryLink({
    retry: { clock, backoff: backoff.constant(100), budget: false, onRetry: () => heard.retries++ },
  });
  return { link, heard };
}

describe('retryLink and a 409 CONFLICT', () => {
  it('retries a keyed mutation answered CONFLICT while its first attempt still runs (timed out on the server), and gets the recorded result', async () => {
    const clock = new FakeClock();
    const records = idempotency();
    let runs = 0;
    let release: ((value: string) => void) | undefined;
    const router = t.router({
      order: t.procedure
        .use(timeoutMiddleware({ ms: 1_000, clock }))
        .input((raw) => raw as { idempotencyKey: string })
        .mutation(
          idempotentMutation({ idempotency: records }, () => {
            runs++;
            return new Promise<string>((resolve) => (release = resolve)); // ignores ctx.signal
          }),
        ),
    });
    server = await startServer({ router, responseMeta: responseMeta() });
    const { link, heard } = retrying(clock);
    const client = createTRPCClient<typeof router>({ links: [link, httpLink({ url: server.url })] });
    const pending = client.order.mutate({ idempotencyKey: 'k-slow' });
    await until(() => release !== undefined, 'the mutation to start');
    await clock.advance(1_000); // the server answers 503: the client retries
    await until(() => heard.retries === 1, 'a retry after the 503');
    await clock.advance(100); // the retry meets the first run: 409
    await until(() => heard.retries === 2, 'a retry after the 409');
    release!('ordered');
    await until(() => records.inFlight === 0, 'the first run to be recorded');
    await clock.advance(100);
    expect(await pending).toBe('ordered');
    expect(runs).toBe(1);
  });

  it('retries the HTTP adapters’ 409 (problem+json, which tRPC cannot read) for a mutation whose key is in its context', async () => {
    const clock = new FakeClock();
    let runs = 0;
    const router = t.router({ order: t.procedure.mutation(() => ++runs) });
    // Stands for an `idempotency` middleware of the Express or Koa adapter in front of tRPC.
    const trpc = createHTTPHandler({ router });
    let conflicts = 2;
    front = createServer((req, res) => {
      if (conflicts-- <= 0) return trpc(req, res);
      const answer = errorResponse(new IdempotencyConflictError('in_flight'));
      res.writeHead(answer.status, answer.headers).end(JSON.stringify(answer.body));
    });
    await new Promise<void>((resolve) => front!.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(front.address() as AddressInfo).port}`;
    const { link, heard } = retrying(clock);
    const client = createTRPCClient<typeof router>({
      links: [link, httpLink({ url, headers: ({ op }) => ({ 'idempotency-key': `"${op.context.idempotencyKey}"` }) })],
    });
    const pending = client.order.mutate(undefined, { context: { idempotencyKey: 'k-front' } });
    for (const retries of [1, 2]) {
      await until(() => heard.retries === retries, `retry ${retries}`);
      await clock.advance(100);
    }
    expect(await pending).toBe(1);
  });

  it('does not retry a keyed mutation’s own CONFLICT (a conflict with the data), replayed by idempotentMutation or not', async () => {
    const clock = new FakeClock();
    let runs = 0;
    let requests = 0;
    const conflict = () => {
      runs++;
      throw new TRPCError({ code: 'CONFLICT', message: 'the item changed meanwhile' });
    };
    const keyed = t.procedure.input((raw) => raw as { idempotencyKey: string });
    const router = t.router({
      recorded: keyed.mutation(idempotentMutation({}, conflict)),
      plain: keyed.mutation(conflict),
    });
    server = await startServer({
      router,
      responseMeta: responseMeta(),
      createContext: () => {
        requests++;
        return {};
      },
    });
    const { link, heard } = retrying(clock);
    const client = createTRPCClient<typeof router>({ links: [link, httpLink({ url: server.url })] });
    for (const call of [
      () => client.recorded.mutate({ idempotencyKey: 'k-1' }),
      () => client.plain.mutate({ idempotencyKey: 'k-2' }),
    ]) {
      const error = await failure(call());
      expect([error.data?.httpStatus, error.data?.idempotencyKeyInUse]).toEqual([409, undefined]);
    }
    expect({ requests, runs, retries: heard.retries }).toEqual({ requests: 2, runs: 2, retries: 0 });
  });

  it('retries the 409 of its key in flight, then not the first run’s own CONFLICT it recorded and replays', async () => {
    const clock = new FakeClock();
    let runs = 0;
    let release: (() => void) | undefined;
    const router = t.router({
      order: t.procedure
        .use(timeoutMiddleware({ ms: 1_000, clock }))
        .input((raw) => raw as { idempotencyKey: string })
        .mutation(
          idempotentMutation({}, async () => {
            runs++;
            await new Promise<void>((resolve) => (release = resolve));
            throw new TRPCError({ code: 'CONFLICT', message: 'sold out meanwhile' });
          }),
        ),
    });
    server = await startServer({ router, responseMeta: responseMeta() });
    const { link, heard } = retrying(clock);
    const client = createTRPCClient<typeof router>({ links: [link, httpLink({ url: server.url })] });
    const pending = failure(client.order.mutate({ idempotencyKey: 'k-sold' }));
    await until(() => release !== undefined, 'the mutation to start');
    await clock.advance(1_000); // 503: retried
    await until(() => heard.retries === 1, 'a retry after the 503');
    await clock.advance(100); // 409 in flight: retried
    await until(() => heard.retries === 2, 'a retry after the 409');
    release!();
    await clock.advance(100); // the recorded CONFLICT, replayed: the answer
    const error = await pending;
    expect([error.data?.httpStatus, error.message]).toEqual([409, 'sold out meanwhile']);
    expect(error.data?.idempotencyKeyInUse).toBeUndefined();
    expect({ runs, retries: heard.retries }).toEqual({ runs: 1, retries: 2 });
  });

  it('does not retry the HTTP adapters’ in-flight 409 when it is replayed (a handler’s own conflict they recorded)', async () => {
    const clock = new FakeClock();
    let requests = 0;
    front = createServer((_req, res) => {
      requests++;
      const answer = errorResponse(new IdempotencyConflictError('in_flight'));
      res
        .writeHead(answer.status, { ...answer.headers, 'idempotent-replayed': 'true' })
        .end(JSON.stringify(answer.body));
    });
    await new Promise<void>((resolve) => front!.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(front.address() as AddressInfo).port}`;
    const { link, heard } = retrying(clock);
    const router = t.router({ order: t.procedure.mutation(() => 'ordered') });
    const client = createTRPCClient<typeof router>({ links: [link, httpLink({ url })] });
    const error = await failure(client.order.mutate(undefined, { context: { idempotencyKey: 'k-replayed' } }));
    expect(error.meta?.response).toMatchObject({ status: 409 });
    expect({ requests, retries: heard.retries }).toEqual({ requests: 1, retries: 0 });
  });

  it('does not retry another 409: a query’s, or a mutation’s without a key', async () => {
    const clock = new FakeClock();
    let runs = 0;
    const conflict = () => {
      runs++;
      throw new TRPCError({ code: 'CONFLICT', message: 'the item changed meanwhile' });
    };
    const router = t.router({ item: t.procedure.query(conflict), save: t.procedure.mutation(conflict) });
    server = await startServer({ router, responseMeta: responseMeta() });
    const client = createTRPCClient<typeof router>({
      links: [retryLink({ retry: { clock }, idempotent: () => true }), httpLink({ url: server.url })],
    });
    for (const call of [() => client.item.query(), () => client.save.mutate()]) {
      expect((await failure(call())).data?.httpStatus).toBe(409);
    }
    expect(runs).toBe(2);
  });

  it('leaves a 409 to a handle of your own', async () => {
    const clock = new FakeClock();
    let runs = 0;
    const router = t.router({
      order: t.procedure
        .input((raw) => raw as { idempotencyKey: string })
        .mutation(() => {
          runs++;
          throw new TRPCError({ code: 'CONFLICT' });
        }),
    });
    server = await startServer({ router, responseMeta: responseMeta() });
    const client = createTRPCClient<typeof router>({
      links: [retryLink({ retry: { clock, handle: () => false } }), httpLink({ url: server.url })],
    });
    expect((await failure(client.order.mutate({ idempotencyKey: 'k' }))).data?.httpStatus).toBe(409);
    expect(runs).toBe(1);
  });
});
