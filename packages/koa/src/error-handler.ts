// The Koa middleware of `errorHandler`: it wraps the chain, answers what fails in it, and
// records what the other middleware answered themselves.
import { type ErrorHandling, responseError } from '@resilience/node-server';
import type { Context, Next } from 'koa';
import { chainFailed, onExpress, onRespondError, piped, routeOf } from './context.js';
import { send, sendNow } from './send.js';

/** The middleware of `errorHandler` over `handling`. */
export function errorMiddleware(handling: ErrorHandling) {
  const recorded = handling.record !== undefined;
  const answer = (ctx: Context, error: unknown) => handling.answer(ctx.res, error, { route: routeOf(ctx), recorded });
  const failed = (ctx: Context, error: unknown) => {
    const problem = answer(ctx, error);
    return problem === undefined ? undefined : send(ctx, problem);
  };
  // Koa's respond writes the answer right after: no waiting for the request's body there.
  const respondFailed = onRespondError(handling, recorded, (ctx, error) => {
    const problem = answer(ctx, error);
    if (problem !== undefined) sendNow(ctx, problem);
  });
  // Not async: the promise `next()` returns is followed as it is, no promise of its own.
  return function errorHandler(ctx: Context, next: Next) {
    onExpress(next, 'errorHandler');
    handling.checkFirst(ctx.res);
    handling.record?.(ctx.res);
    ctx.onerror = chainFailed;
    let handled: Promise<unknown>;
    try {
      handled = Promise.resolve(next());
    } catch (error) {
      return Promise.resolve(failed(ctx, error));
    }
    return handled.then(
      () => {
        if (responseError(ctx.res) !== undefined) {
          handling.recordAnswered(ctx.res, { route: routeOf(ctx), recorded });
          return;
        }
        ctx.onerror = respondFailed;
        // A streamed body is sent after this: a timeout may yet cut it off.
        if (piped(ctx.body)) {
          handling.recordAnsweredOnClose(ctx.res, { route: routeOf(ctx), recorded });
        }
      },
      (error: unknown) => failed(ctx, error),
    );
  };
}
