import { type Answer, RUN } from '@resilience/node-server';
import type { Context, Next } from 'koa';

/**
 * Answers through Koa (status, headers, body bytes), so upstream middleware sees the answer on
 * `ctx` — for a client that left too: what Koa then writes, if anything, is this answer.
 */
export function send(ctx: Context, answer: Answer): void {
  if (ctx.res.headersSent) return;
  ctx.status = answer.status;
  const headers = answer.headers ?? {};
  for (const [name, value] of Object.entries(headers)) ctx.set(name, value as string | string[]);
  ctx.body = answer.body ?? '';
  // Koa guesses a type for a body without one; a replay of a response that had none sends none.
  if (headers['content-type'] === undefined) ctx.remove('Content-Type');
}

/** Goes on (`undefined`, {@link RUN}: `next()`), or sends the answer; a failure rejects to Koa's error path. */
export function settle(
  ctx: Context,
  next: Next,
  step: Answer | typeof RUN | undefined | Promise<Answer | typeof RUN | undefined>,
): unknown {
  if (step instanceof Promise) return step.then((answer) => settle(ctx, next, answer));
  if (step === undefined || step === RUN) return next();
  send(ctx, step);
  return undefined;
}
