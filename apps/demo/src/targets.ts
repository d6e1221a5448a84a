import { createTRPCClient, httpLink, TRPCClientError } from '@trpc/client';
import type { OrderBody } from './api-kit.js';
import type { TrpcRouter } from './trpc-api.js';

export const API_NAMES = ['express', 'koa', 'trpc'] as const;
export type ApiName = (typeof API_NAMES)[number];

/** What the load generator sends: a quote (a read) or an order (a write with an idempotency key). */
export type DemoRequest =
  | { kind: 'quote'; id: string; apiKey: string }
  | { kind: 'order'; id: string; apiKey: string; idempotencyKey: string; order: OrderBody };

/** An API's answer as the load generator reads it; status 0 for a connection that failed. */
export interface DemoAnswer {
  status: number;
  body: unknown;
  /** The server said this answer is a replay (`Idempotent-Replayed: true`; tRPC has no such field). */
  replayed: boolean;
  /** For a failure: the problem's `code` (or title), tRPC's error code and message, or the network error. */
  cause?: string;
}

/** Sends demo requests to one API, as its clients would. */
export type Send = (request: DemoRequest, signal: AbortSignal) => Promise<DemoAnswer>;

/** Express and Koa: plain HTTP, the way any client calls them. */
export function httpSender(baseUrl: string): Send {
  return async (request, signal) => {
    const headers: Record<string, string> = { 'x-api-key': request.apiKey, 'x-request-id': request.id };
    const init: RequestInit = { headers, signal };
    if (request.kind === 'order') {
      headers['content-type'] = 'application/json';
      headers['idempotency-key'] = `"${request.idempotencyKey}"`;
      Object.assign(init, { method: 'POST', body: JSON.stringify(request.order) });
    }
    try {
      const response = await fetch(`${baseUrl}${request.kind === 'order' ? '/orders' : '/quote'}`, init);
      const body: unknown = await response.json().catch(() => undefined);
      const replayed = response.headers.get('idempotent-replayed') === 'true';
      if (response.ok) return { status: response.status, body, replayed };
      const problem = body as { code?: string; title?: string } | undefined;
      return { status: response.status, body, replayed, cause: problem?.code ?? problem?.title ?? 'unknown' };
    } catch (error) {
      return { status: 0, body: undefined, replayed: false, cause: (error as Error).message };
    }
  };
}

/** The tRPC server, through `@trpc/client`. */
export function trpcSender(baseUrl: string): Send {
  const client = createTRPCClient<TrpcRouter>({
    links: [httpLink({ url: `${baseUrl}/trpc`, headers: ({ op }) => op.context.headers as Record<string, string> })],
  });
  return async (request, signal) => {
    const context = { headers: { 'x-api-key': request.apiKey, 'x-request-id': request.id } };
    try {
      const body =
        request.kind === 'quote'
          ? await client.quote.query(undefined, { context, signal })
          : await client.createOrder.mutate(
              { ...request.order, idempotencyKey: request.idempotencyKey },
              { context, signal },
            );
      return { status: 200, body, replayed: false };
    } catch (error) {
      const status = error instanceof TRPCClientError ? Number(error.data?.httpStatus ?? 0) : 0;
      const code = error instanceof TRPCClientError ? (error.data?.code as string | undefined) : undefined;
      return { status, body: undefined, replayed: false, cause: `${code ?? 'error'}: ${(error as Error).message}` };
    }
  };
}
