// The Express side of the HTTP conformance suite: how its scenarios' routes, parsers and apps
// are written in Express. Reused for Express 4 (the same code against express@4).
import { pipeline, Readable } from 'node:stream';
import type { ConformanceAdapter, Handler, Parser, Reply } from '@resilience/http-conformance';
import type express from 'express';
import type { ErrorRequestHandler, Request, RequestHandler, Response } from 'express';
import * as resilience from '../index.js';

type Layer = RequestHandler | ErrorRequestHandler;

function write(res: Response, reply: Reply): void {
  res.status(reply.status ?? 200);
  for (const [name, value] of Object.entries(reply.headers ?? {})) res.set(name, value as string | string[]);
  if (reply.strictContentLength !== undefined) {
    res.strictContentLength = true;
    res.setHeader('content-length', reply.strictContentLength);
    res.end(reply.text ?? '');
    return;
  }
  if (reply.fail !== undefined) {
    if (reply.sent !== undefined) {
      if (reply.ended === true) res.end(reply.sent);
      else res.write(reply.sent);
    }
    throw reply.fail;
  }
  if (reply.json !== undefined) res.json(reply.json);
  else if (reply.text !== undefined) res.send(reply.text);
  else if (reply.bytes !== undefined) res.end(Buffer.from(reply.bytes));
  // As Express apps stream: a source that fails destroys the response (`pipe` would leave it open).
  else if (reply.chunks !== undefined) pipeline(Readable.from(reply.chunks), res, () => {});
  else res.end();
}

export function expressAdapter(name: string, framework: typeof express): ConformanceAdapter<Layer, Request> {
  const parser = (kind: Parser): RequestHandler =>
    kind === 'json'
      ? framework.json()
      : kind === 'json-nonstrict'
        ? framework.json({ strict: false })
        : kind === 'text'
          ? framework.text()
          : framework.urlencoded({ extended: false });
  const route = (method: string, path: string, handler: Handler, options: { parser?: Parser } = {}): Layer => {
    const router = framework.Router();
    const run: RequestHandler = async (req, res, next) => {
      try {
        const reply = await handler({
          method: req.method,
          path: req.originalUrl,
          headers: req.headers,
          body: req.body,
          rawBody: (req as { rawBody?: unknown }).rawBody,
          signal: () => resilience.requestSignal(req),
        });
        write(res, reply);
      } catch (error) {
        next(error);
      }
    };
    const verb = method.toLowerCase() as 'get' | 'post' | 'patch' | 'put' | 'delete';
    if (options.parser === undefined) router[verb](path, run);
    else router[verb](path, parser(options.parser), run);
    return router;
  };
  return {
    name,
    rateLimit: resilience.rateLimit,
    idempotency: resilience.idempotency,
    timeout: resilience.timeout,
    loadShedding: resilience.loadShedding,
    errorHandler: resilience.errorHandler,
    healthRoutes: resilience.healthRoutes,
    metricsRoute: resilience.metricsRoute,
    adminRoutes: resilience.adminRoutes,
    gracefulShutdown: resilience.gracefulShutdown,
    route,
    parser,
    header: (req, header) => req.get(header),
    build(stack, { trustProxy }) {
      const app = framework();
      app.set('trust proxy', trustProxy === 'none' ? false : trustProxy === 'all' ? true : trustProxy);
      // Express calls a four-argument middleware only for errors, and only after the layer that failed.
      for (const layer of stack) if (layer.length !== 4) app.use(layer);
      for (const layer of stack) if (layer.length === 4) app.use(layer);
      return app;
    },
  };
}
