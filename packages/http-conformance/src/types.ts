import type { IncomingHttpHeaders, RequestListener } from 'node:http';
import type { HealthRegistry } from '@resilience/core';
import type {
  AdminRoutesOptions,
  ErrorHandlerOptions,
  GracefulShutdown,
  GracefulShutdownOptions,
  HealthRoutesOptions,
  IdempotencyOptions,
  LoadSheddingOptions,
  MetricsRouteOptions,
  RateLimitOptions,
  ShutdownServer,
  TimeoutOptions,
} from '@resilience/node-server';

/** A request as a scenario's handler sees it, whatever the framework. */
export interface HandlerRequest {
  readonly method: string;
  /** The path with its query. */
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  /** What the body parsers (or the idempotency middleware) left: Express `req.body`, Koa `ctx.request.body`. */
  readonly body: unknown;
  /** `req.rawBody` / `ctx.request.rawBody`. */
  readonly rawBody: unknown;
  /** The adapter's `requestSignal` for this request. */
  signal(): AbortSignal;
}

/** What a scenario's handler answers; the adapter writes it the framework's usual way. */
export interface Reply {
  readonly status?: number;
  readonly headers?: Readonly<Record<string, string | readonly string[]>>;
  /** Express `res.json(value)`, Koa `ctx.body = value`. */
  readonly json?: unknown;
  /** Express `res.send(text)`, Koa `ctx.body = text`. */
  readonly text?: string;
  /** Express `res.end(buffer)` (or `res.send`), Koa `ctx.body = buffer`. */
  readonly bytes?: Uint8Array;
  /** A stream of these chunks (an async iterable for one that waits), piped (Express) or set as `ctx.body` (Koa). */
  readonly chunks?: readonly string[] | AsyncIterable<string>;
  /** Thrown once `status` and `headers` are set, instead of a body: a handler that fails part-way. */
  readonly fail?: unknown;
  /** With `fail`: written first (`res.write`: the head and these bytes go out), a handler that fails mid-response. */
  readonly sent?: string;
  /** With `fail` and `sent`: the response is ended with `sent` (`res.end`) before the throw, a handler that fails after answering. */
  readonly ended?: boolean;
  /**
   * With `text`: the response is ended with `text` (`res.end`) under `res.strictContentLength`
   * and this Content-Length, not the text's own: Node's `end` throws
   * ERR_HTTP_CONTENT_LENGTH_MISMATCH (the head made, nothing sent), thrown on as the handler's error.
   */
  readonly strictContentLength?: number;
}

export type Handler = (request: HandlerRequest) => Reply | Promise<Reply>;

/**
 * The framework's body parsers, as a layer of its own or before one route; `json-nonstrict`
 * keeps a top-level primitive (`express.json({ strict: false })`, `jsonStrict: false`).
 */
export type Parser = 'json' | 'json-nonstrict' | 'text' | 'urlencoded';

/** How the app resolves client addresses: no proxy, every proxy, or one hop. */
export type TrustProxy = 'none' | 'all' | 1;

/**
 * What an adapter gives the suite: its middleware factories (`M` is one middleware of its
 * framework, `C` the request object its option functions receive), a handler route, its
 * body parsers, a header reader for option functions, and a way to make a Node listener.
 */
export interface ConformanceAdapter<M = unknown, C = never> {
  readonly name: string;
  rateLimit(options: RateLimitOptions<C>): M;
  idempotency(options?: IdempotencyOptions<C>): M;
  timeout(options: TimeoutOptions): M;
  loadShedding(options: LoadSheddingOptions): M;
  errorHandler(options?: ErrorHandlerOptions): M;
  healthRoutes(registry: HealthRegistry, options?: HealthRoutesOptions): M;
  metricsRoute(options: MetricsRouteOptions): M;
  adminRoutes(options: AdminRoutesOptions<C>): M;
  gracefulShutdown(server: ShutdownServer, options?: GracefulShutdownOptions): GracefulShutdown;
  /** A route answering `method path` with `handler`, after the framework's parser when given. */
  route(method: string, path: string, handler: Handler, options?: { parser?: Parser }): M;
  /** The framework's usual body parser as a middleware (Express `express.json()`, Koa `@koa/bodyparser`). */
  parser(kind: Parser): M;
  /** A request header, read from what option functions receive (`req`, `ctx`). */
  header(c: C, name: string): string | undefined;
  /**
   * The app: `stack` in request order. An error handler, wherever it is listed, goes where
   * the framework needs it (Express: last; Koa: first).
   */
  build(stack: readonly M[], settings: { trustProxy: TrustProxy }): RequestListener;
}
