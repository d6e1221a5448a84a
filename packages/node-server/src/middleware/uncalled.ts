import { IncomingMessage } from 'node:http';
import { Http2ServerRequest } from 'node:http2';
import { ConfigurationError } from '@resilience/core';
import { OptionsValidator } from '@resilience/core/internal';

/**
 * Throws when a middleware factory was mounted uncalled (`app.use(errorHandler)`, not
 * `app.use(errorHandler())`): the framework then calls it per request with its request
 * (Express `req`, Koa `ctx`) as the options. Said as such, with the call to write, instead of
 * "options: received an IncomingMessage".
 */
export function refuseUncalled(name: string, first: unknown): void {
  // Koa's context carries the request as `ctx.req`.
  const req = first instanceof IncomingMessage ? first : (first as { req?: unknown } | null | undefined)?.req;
  if (!(req instanceof IncomingMessage || req instanceof Http2ServerRequest)) return;
  new OptionsValidator(name)
    .check(
      false,
      'options',
      req,
      `options, not a request: ${name}(...) makes the middleware, so mount what it returns (app.use(${name}(...)))`,
    )
    .done();
}

/**
 * Throws when an adapter's middleware runs under the other framework (Koa calls a middleware
 * with `(ctx, next)`, Express with `(req, res, next)`), naming the package to import it from,
 * instead of a TypeError from inside it at the first request.
 */
export function refuseFramework(name: string, ours: 'express' | 'koa'): never {
  const [mine, theirs, other] = ours === 'koa' ? ['Koa', 'Express', 'express'] : ['Express', 'Koa', 'koa'];
  throw new ConfigurationError(name, [
    {
      option: 'framework',
      received: theirs,
      allowed: `${mine} (on ${theirs}: import ${name} from '@resilience/${other}')`,
    },
  ]);
}
