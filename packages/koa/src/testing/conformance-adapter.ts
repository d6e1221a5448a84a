// The Koa side of the HTTP conformance suite: how its scenarios' routes, parsers and apps are
// written in Koa (no router package: a route is a middleware that matches method and path).
import { Readable } from 'node:stream';
import { bodyParser } from '@koa/bodyparser';
import type { ConformanceAdapter, Handler, Parser, Reply } from '@resilience/http-conformance';
import Koa, { type Context, type Middleware } from 'koa';
import * as resilience from '../index.js';

const ENABLE = { json: ['json'], 'json-nonstrict': ['json'], text: ['text'], urlencoded: ['form'] } as const;

const parser = (kind: Parser): Middleware =>
  bodyParser({ enableTypes: [...ENABLE[kind]], jsonStrict: kind !== 'json-nonstrict' }) as unknown as Middleware;

function write(ctx: Context, reply: Reply): void {
  ctx.status = reply.status ?? 200;
  for (const [name, value] of Object.entries(reply.headers ?? {})) ctx.set(name, value as string | string[]);
  if (reply.strictContentLength !== undefined) {
    ctx.res.strictContentLength = true;
    ctx.res.setHeader('content-length', reply.strictContentLength);
    ctx.res.end(reply.text ?? '');
    return;
  }
  if (reply.fail !== undefined) {
    if (reply.sent !== undefined) {
      if (reply.ended === true) ctx.res.end(reply.sent);
      else ctx.res.write(reply.sent);
    }
    throw reply.fail;
  }
  if (reply.json !== undefined) ctx.body = reply.json;
  else if (reply.text !== undefined) ctx.body = reply.text;
  else if (reply.bytes !== undefined) ctx.body = Buffer.from(reply.bytes);
  else if (reply.chunks !== undefined) ctx.body = Readable.from(reply.chunks);
  else ctx.body = null;
}

function route(method: string, path: string, handler: Handler, options: { parser?: Parser } = {}): Middleware {
  const parse = options.parser === undefined ? undefined : parser(options.parser);
  const run = async (ctx: Context) => {
    const request = ctx.request as Context['request'] & { body?: unknown; rawBody?: unknown };
    const reply = await handler({
      method: ctx.method,
      path: ctx.originalUrl,
      headers: ctx.headers,
      body: request.body,
      rawBody: request.rawBody,
      signal: () => resilience.requestSignal(ctx),
    });
    write(ctx, reply);
  };
  return async function routeMiddleware(ctx, next) {
    if (ctx.method !== method || ctx.path !== path) return next();
    if (parse === undefined) return run(ctx);
    return parse(ctx, () => run(ctx));
  };
}

// The error handlers made here, to be mounted first (a function's name is no mark: the test
// transform renames the inner `function errorHandler` to `errorHandler2`).
const errorHandlers = new WeakSet<Middleware>();

export const koaAdapter: ConformanceAdapter<Middleware, Context> = {
  name: 'koa 3',
  rateLimit: resilience.rateLimit,
  idempotency: resilience.idempotency,
  timeout: resilience.timeout,
  loadShedding: resilience.loadShedding,
  errorHandler(options) {
    const handler = resilience.errorHandler(options);
    errorHandlers.add(handler);
    return handler;
  },
  healthRoutes: resilience.healthRoutes,
  metricsRoute: resilience.metricsRoute,
  adminRoutes: resilience.adminRoutes,
  gracefulShutdown: resilience.gracefulShutdown,
  route,
  parser,
  header: (ctx, name) => ctx.get(name) || undefined,
  build(stack, { trustProxy }) {
    const app = new Koa({ proxy: trustProxy !== 'none', maxIpsCount: trustProxy === 1 ? 1 : 0 });
    app.silent = true;
    // The error handler wraps everything after it: first.
    for (const m of [...stack.filter((m) => errorHandlers.has(m)), ...stack.filter((m) => !errorHandlers.has(m))]) {
      app.use(m);
    }
    return app.callback();
  },
};
