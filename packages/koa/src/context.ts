// What the Koa adapter reads off a Koa context: its proxy trust, its route, whether its body
// is piped after the chain, and what fails while Koa writes the answer.
import type { ProxyTrust } from '@resilience/core';
import { type errorHandling, refuseFramework, responseError } from '@resilience/node-server';
import type { Context } from 'koa';

/** Express calls a middleware with (req, res, next): `next` is its res. Said at the first request. */
export const onExpress = (next: unknown, name: string) => typeof next !== 'function' && refuseFramework(name, 'koa');

/**
 * How Koa resolves client addresses: `app.proxy` off trusts none; on without `maxIpsCount`
 * (or above 64, as Express's hop count: no one runs that many proxies), every X-Forwarded-For
 * hop. A `proxyIpHeader` of another name (X-Real-IP) is read as the proxy sets it:
 * X-Forwarded-For is then no sign of a misconfiguration.
 */
export const trustOf = ({ app }: Context): ProxyTrust =>
  !app.proxy
    ? 'none'
    : (app.maxIpsCount > 0 && app.maxIpsCount <= 64) || app.proxyIpHeader.toLowerCase() !== 'x-forwarded-for'
      ? 'hops'
      : 'all';

/** A body Koa pipes to the response once the chain has settled: its work is done as it is sent. */
export const piped = (body: unknown): boolean =>
  typeof (body as { pipe?: unknown } | null)?.pipe === 'function' ||
  body instanceof ReadableStream ||
  body instanceof Blob ||
  body instanceof Response;

/** The route as @koa/router names it, when it matched one. */
export function routeOf(ctx: Context): string | undefined {
  const matched = (ctx as { _matchedRoute?: unknown })._matchedRoute;
  return typeof matched === 'string' ? `${ctx.method} ${matched}` : undefined;
}

/** Errors of a response the client closed or reset (mid-body too): a request cancelled, not a failure. */
const CLIENT_GONE = new Set([
  'ERR_STREAM_PREMATURE_CLOSE',
  'ECONNRESET',
  'EPIPE',
  'ECONNABORTED',
  'HPE_INVALID_EOF_STATE',
]);
const clientGone = (error: unknown) => CLIENT_GONE.has((error as { code?: unknown } | null)?.code as string);

/**
 * Koa's `ctx.onerror` while the chain runs: a client that leaves then (a refusal waiting a turn
 * for the body it was sending) is no error of the app's; anything else goes to Koa's own.
 */
export function chainFailed(this: Context, error: unknown): void {
  if (!clientGone(error)) Object.getPrototypeOf(this).onerror.call(this, error);
}

/**
 * Koa's `ctx.onerror` once the chain has answered: what fails as Koa writes the answer (a
 * streamed body's source, a body JSON cannot write) is a failure of the server's, answered
 * (when nothing was sent yet) and recorded here, not passed on to `app.on('error')`.
 */
export function onRespondError(
  handling: ReturnType<typeof errorHandling>,
  recorded: boolean,
  failed: (ctx: Context, error: unknown) => void,
) {
  return function respondFailed(this: Context, error: unknown): void {
    const res = this.res;
    if (error == null) return;
    // Cut off by the toolkit (a timeout), or by the client: the recorder says which.
    if (responseError(res) !== undefined) handling.recordAnswered(res, { route: routeOf(this), recorded });
    else if (!clientGone(error)) {
      failed(this, error);
      if (!res.headersSent && !res.destroyed) res.end(this.body as string);
    }
  };
}
