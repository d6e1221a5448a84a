import type { ServerResponse } from 'node:http';
import {
  type Answer,
  afterBody,
  clearBodyHeaders,
  endWith,
  isHeadersSent,
  RUN,
  responseError,
  setField,
} from '@resilience/node-server';
import type { NextFunction, Request, Response } from 'express';
import { appErrorHandling } from './error-sink.js';

/**
 * The route as Express names it (`GET /orders/:id`), once one matched. Without `req.baseUrl`:
 * a router's mount path as the URL spelt it (`/reset/secret-token` for `/reset/:token`),
 * user data that `recentErrors` must not keep; and gone anyway once an error leaves the router.
 */
export function routeOf(req: Request): string | undefined {
  return req.route === undefined ? undefined : `${req.method} ${req.route.path}`;
}

/** Records the error the toolkit answered `res` with itself (a timeout, a shed) into the app's errorHandler. */
export function recordAnswered(res: ServerResponse): void {
  const req = res.req as Request;
  if (responseError(res) !== undefined)
    appErrorHandling(req)?.recordAnswered(res, { route: routeOf(req), recorded: false });
}

/**
 * Sends an answer as it is: status, headers, body bytes (no ETag, no content negotiation),
 * without the headers set for the handler's body (see `clearBodyHeaders`).
 * To a client that left too: Node writes nothing then, but an idempotency capture still
 * learns how the request ended. While the request's body is on its way, in Node's next turn
 * (see `bodyArrived`): the promise then rejects if the answer cannot be sent.
 */
export const send = (res: Response, answer: Answer): Promise<void> | undefined =>
  afterBody(res, () => sendNow(res, answer));

function sendNow(res: Response, answer: Answer): void {
  if (isHeadersSent(res)) return;
  clearBodyHeaders(res);
  res.statusCode = answer.status;
  // An answer carries no `Connection` but `close` (core's errorResponse drops an error's keep-alive;
  // a capture records none), so nothing here keeps open a connection the drain closes.
  for (const [name, value] of Object.entries(answer.headers ?? {})) setField(res, name, value);
  endWith(res, answer.body); // a HEAD gets the GET's length, as res.send gives it
  recordAnswered(res);
}

/** Goes on (`undefined`, {@link RUN}), sends the answer, or passes a failure to Express's error path. */
export function settle(
  res: Response,
  next: NextFunction,
  step: Answer | typeof RUN | undefined | Promise<Answer | typeof RUN | undefined>,
): void {
  appErrorHandling(res.req as Request); // once per app: an errorHandler mounted first is told
  if (step instanceof Promise) {
    // An answer that cannot be sent (a header Node refuses) goes to the error path too.
    step.then((answer) => settle(res, next, answer)).then(undefined, next);
  } else if (step === undefined || step === RUN) {
    next();
  } else {
    send(res, step)?.then(undefined, next);
  }
}
