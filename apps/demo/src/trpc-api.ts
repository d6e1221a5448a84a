import type { IncomingMessage, ServerResponse } from 'node:http';
import { clientIpKey, idempotency } from '@resilience/core';
import {
  errorAnswer,
  errorFormatter,
  idempotentMutation,
  rateLimitMiddleware,
  responseMeta,
  timeoutMiddleware,
} from '@resilience/trpc/server';
import { initTRPC } from '@trpc/server';
import { createHTTPServer } from '@trpc/server/adapters/standalone';
import express from 'express';
import { type ApiKit, clientKey, type OrderBody } from './api-kit.js';
import { operations } from './express-api.js';

/** `client`: the checked API key (see clientKey), `''` for none; `ip`: the socket's address. */
type Context = { client: string; ip: string; requestId: string };

/** The tRPC router: the provider through the kit's client, per-client limits, idempotent checkout. */
export function trpcRouter(kit: ApiKit) {
  const t = initTRPC.context<Context>().create({ errorFormatter: errorFormatter() });
  const procedure = t.procedure
    .use(rateLimitMiddleware<Context>({ limiter: kit.limiter, key: ({ ctx }) => ctx.client || clientIpKey(ctx.ip) }))
    .use(timeoutMiddleware({ ms: 25_000 }));
  const orders = idempotency({ ...(kit.store && { store: kit.store }), ttlMs: 3_600_000 });
  return t.router({
    quote: procedure.query(({ ctx }) => kit.upstream.quote({ requestId: ctx.requestId, signal: ctx.signal })),
    createOrder: procedure
      .input((raw) => raw as OrderBody & { idempotencyKey: string })
      .mutation(
        idempotentMutation({ idempotency: orders, scope: ({ ctx }) => ctx.client || undefined }, ({ input, ctx }) =>
          kit.orders.run(
            { orderId: input.orderId, amount: input.amount, card: input.card, requestId: ctx.requestId },
            ctx.signal,
          ),
        ),
      ),
  });
}

export type TrpcRouter = ReturnType<typeof trpcRouter>;

/**
 * The tRPC server (`createHTTPServer`), with the Express adapter's health, metrics, admin
 * routes and load shedding as its Connect middleware: tRPC answers what they pass on. Its
 * `onError` records what the Express and Koa APIs' `errorHandler` records: server errors (5xx)
 * and cancelled calls (499), with the status `errorFormatter()` answers them with, into the
 * API's collector and the recent errors its admin routes (and the dashboard) read.
 */
export function trpcServer(kit: ApiKit) {
  const gate = express().use(operations(kit));
  const header = (req: IncomingMessage, name: string) => String(req.headers[name] ?? '');
  return createHTTPServer({
    router: trpcRouter(kit),
    basePath: '/trpc/',
    middleware: gate as unknown as (req: IncomingMessage, res: ServerResponse, next: () => void) => void,
    createContext: ({ req }) => ({
      client: clientKey(header(req, 'x-api-key')),
      ip: req.socket.remoteAddress ?? '',
      requestId: header(req, 'x-request-id'),
    }),
    responseMeta: responseMeta(),
    onError: ({ error, path, req }) => {
      const status = errorAnswer(error).httpStatus;
      if (status < 500 && status !== 499) return;
      // The procedure's own error (an UpstreamError, an open breaker), not tRPC's wrapper of it.
      const cause = error.code === 'INTERNAL_SERVER_ERROR' && error.cause !== undefined ? error.cause : error;
      kit.stats.recordError(cause);
      const correlationId = header(req, 'x-request-id') || undefined;
      kit.errors.record(cause, {
        status,
        ...(correlationId && { correlationId }),
        ...(path !== undefined && { route: path }),
      });
    },
  });
}
