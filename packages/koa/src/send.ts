import { type Answer, afterBody, clearBodyHeaders, RUN } from '@resilience/node-server';
import type { Context, Next } from 'koa';

/**
 * Answers through Koa (status, headers, body bytes), so upstream middleware sees the answer on
 * `ctx` — for a client that left too: what Koa then writes, if anything, is this answer. While
 * the request's body is on its way, in Node's next turn (see `bodyArrived`): the chain follows
 * the promise, so Koa writes the answer after.
 */
export const send = (ctx: Context, answer: Answer): Promise<void> | undefined =>
  afterBody(ctx.res, () => sendNow(ctx, answer));

/** {@link send} at once: from Koa's respond, which writes the answer right after. */
export function sendNow(ctx: Context, answer: Answer): void {
  if (ctx.res.headersSent) return;
  // Koa's own error path drops every header; this keeps CORS and rate-limit fields, not the body's.
  clearBodyHeaders(ctx.res);
  ctx.status = answer.status;
  // The body first: its setter sets a length (a replayed HEAD's own goes on after) and guesses a
  // type, which a replay of a response that had none sends without.
  ctx.body = answer.body ?? '';
  const headers = answer.headers ?? {};
  for (const [name, value] of Object.entries(headers)) ctx.set(name, value as string | string[]);
  if (headers['content-type'] === undefined) ctx.remove('Content-Type');
  // No body (a replayed HEAD): no length but its own, not the 0 of the empty body.
  if (answer.body === undefined && headers['content-length'] === undefined) ctx.remove('Content-Length');
}

/** Goes on (`undefined`, {@link RUN}: `next()`), or sends the answer; a failure rejects to Koa's error path. */
export function settle(
  ctx: Context,
  next: Next,
  step: Answer | typeof RUN | undefined | Promise<Answer | typeof RUN | undefined>,
): unknown {
  if (step instanceof Promise) return step.then((answer) => settle(ctx, next, answer));
  if (step === undefined || step === RUN) return next();
  return send(ctx, step);
}

/** Statuses whose response has no body: Koa ends them empty. */
const EMPTY = new Set([204, 205, 304]);

/**
 * Ends a timed-out request's sealed response with the answer its handler left on `ctx`, as
 * Koa's respond would have sent it — a string, a Buffer, a plain object or array as JSON, no
 * body for 204/205/304 — so the idempotency capture records it (nothing reaches the wire).
 * Any other body (a stream, a Blob) is not written: the handler's answer is then not recorded.
 */
export function writeLate(ctx: Context): void {
  const body: unknown = ctx.body;
  if (body == null) {
    if (EMPTY.has(ctx.status)) ctx.res.end();
  } else if (typeof body === 'string' || Buffer.isBuffer(body)) ctx.res.end(body);
  else if (Array.isArray(body) || (typeof body === 'object' && Object.getPrototypeOf(body) === Object.prototype)) {
    ctx.res.end(JSON.stringify(body));
  }
}
