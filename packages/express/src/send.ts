import { type Answer, RUN } from '@resilience/node-server';
import type { NextFunction, Response } from 'express';

/** Sends an answer as it is: status, headers, body bytes (no ETag, no content negotiation). */
export function send(res: Response, answer: Answer): void {
  if (res.headersSent || res.destroyed) return;
  res.statusCode = answer.status;
  for (const [name, value] of Object.entries(answer.headers ?? {})) res.setHeader(name, value);
  res.end(answer.body);
}

/** Goes on (`undefined`, {@link RUN}), sends the answer, or passes a failure to Express's error path. */
export function settle(
  res: Response,
  next: NextFunction,
  step: Answer | typeof RUN | undefined | Promise<Answer | typeof RUN | undefined>,
): void {
  if (step instanceof Promise) {
    step.then((answer) => settle(res, next, answer), next);
  } else if (step === undefined || step === RUN) {
    next();
  } else {
    send(res, step);
  }
}
