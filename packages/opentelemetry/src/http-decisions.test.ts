// The server adapters' decisions on the request's server span: real Express and Koa servers on
// 127.0.0.1, the real SDK, and a server span made around each request as
// @opentelemetry/instrumentation-http makes it (active while the framework handles the request).
import type { RequestListener } from 'node:http';
import { type Attributes, SpanKind, type Tracer } from '@opentelemetry/api';
import { BasicTracerProvider, type ReadableSpan, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { fixedWindow } from '@resilience/core';
import { emitHttpDecision } from '@resilience/core/internal';
import { FakeClock } from '@resilience/core/testing';
import * as forExpress from '@resilience/express';
import * as forKoa from '@resilience/koa';
import { deferred, type Served, send, serve } from '@resilience/node-server/testing';
import express, { type RequestHandler } from 'express';
import Koa, { type Middleware } from 'koa';
import { afterEach, describe, expect, it } from 'vitest';
import { instrumentHttpDecisions } from './http-decisions.js';
import { sdk, useContextManager } from './sdk.fixture.js';

useContextManager();

/** Hands out ended spans in the order they ended, waiting for one when none has. */
class EndedSpans implements SpanProcessor {
  readonly #ended: ReadableSpan[] = [];
  readonly #waiting: ((span: ReadableSpan) => void)[] = [];
  onStart(): void {}
  onEnd(span: ReadableSpan): void {
    const waiter = this.#waiting.shift();
    if (waiter === undefined) this.#ended.push(span);
    else waiter(span);
  }
  next(): Promise<ReadableSpan> {
    const span = this.#ended.shift();
    return span === undefined ? new Promise((resolve) => this.#waiting.push(resolve)) : Promise.resolve(span);
  }
  forceFlush = () => Promise.resolve();
  shutdown = () => Promise.resolve();
}

/** The request listener inside a server span, active while the framework handles the request. */
const traced =
  (tracer: Tracer, listener: RequestListener): RequestListener =>
  (req, res) =>
    tracer.startActiveSpan(`${req.method}`, { kind: SpanKind.SERVER }, (span) => {
      res.on('close', () => span.end());
      listener(req, res);
    });

/** The span's attributes of this package. */
const ours = (span: ReadableSpan): Attributes =>
  Object.fromEntries(Object.entries(span.attributes).filter(([name]) => name.startsWith('resilience.')));

/** What the tests call on either adapter (a union of the two modules' generic factories is not callable). */
interface Adapter {
  rateLimit(options: forExpress.RateLimitOptions & forKoa.RateLimitOptions): unknown;
  idempotency(options?: forExpress.IdempotencyOptions & forKoa.IdempotencyOptions): unknown;
  loadShedding(options: Parameters<typeof forExpress.loadShedding>[0]): unknown;
  timeout(options: Parameters<typeof forExpress.timeout>[0]): unknown;
}

/** A server with `middleware` (made by the adapter under test), then a handler answering `answer()` as JSON. */
type Start = (middleware: (adapter: Adapter) => unknown[], answer?: () => Promise<unknown>) => Promise<Served>;

const servers: Served[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const frameworks: [string, (tracer: Tracer) => Start][] = [
  [
    'express',
    (tracer) => async (middleware, answer) => {
      const app = express();
      for (const m of middleware(forExpress)) app.use(m as RequestHandler);
      app.use(async (_req, res) => {
        res.json((await answer?.()) ?? 'ok');
      });
      const served = await serve(traced(tracer, app));
      servers.push(served);
      return served;
    },
  ],
  [
    'koa',
    (tracer) => async (middleware, answer) => {
      const app = new Koa();
      for (const m of middleware(forKoa)) app.use(m as Middleware);
      app.use(async (ctx) => {
        ctx.body = (await answer?.()) ?? 'ok';
      });
      const served = await serve(traced(tracer, app.callback()));
      servers.push(served);
      return served;
    },
  ],
];

describe.each(frameworks)('%s: instrumentHttpDecisions', (_, framework) => {
  const setup = (listen = true) => {
    const spans = new EndedSpans();
    const start = framework(new BasicTracerProvider({ spanProcessors: [spans] }).getTracer('http'));
    if (listen) {
      const stop = instrumentHttpDecisions();
      servers.push({ close: async () => stop() } as Served);
    }
    return { spans, start };
  };
  const limited = (adapter: Adapter) => [
    adapter.rateLimit({ algorithm: fixedWindow({ limit: 1, windowMs: 60_000 }), name: 'api', clock: new FakeClock() }),
  ];

  it('puts a rate-limited request’s decision and policy on its server span', async () => {
    const { spans, start } = setup();
    const { port } = await start(limited);
    expect((await send(port)).status).toBe(200);
    expect(ours(await spans.next())).toEqual({});
    expect((await send(port)).status).toBe(429);
    expect(ours(await spans.next())).toEqual({
      'resilience.decision': 'rate_limited',
      'resilience.policy.name': 'api',
      'resilience.rejection.reason': 'rate_limited',
    });
  });

  it('marks a replayed idempotent response, and a key reused with another payload', async () => {
    const { spans, start } = setup();
    let orders = 0;
    const { port } = await start(
      (adapter) => [adapter.idempotency({ clock: new FakeClock() })],
      async () => ++orders,
    );
    const post = (body: string) =>
      send(port, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': '"order-1"' },
        body,
      });
    expect((await post('{"cents":100}')).text).toBe('1');
    expect(ours(await spans.next())).toEqual({});
    expect((await post('{"cents":100}')).text).toBe('1');
    expect(ours(await spans.next())).toEqual({
      'resilience.decision': 'replayed',
      'resilience.idempotency.replayed': true,
    });
    expect((await post('{"cents":999}')).status).toBe(422);
    expect(ours(await spans.next())).toEqual({ 'resilience.decision': 'idempotency_conflict' });
  });

  it('marks a request shed by load shedding', async () => {
    const { spans, start } = setup();
    const entered = deferred();
    const release = deferred();
    const { port } = await start(
      (adapter) => [adapter.loadShedding({ maxConcurrent: 1 })],
      async () => {
        entered.resolve();
        await release.promise;
      },
    );
    const first = send(port);
    await entered.promise;
    expect((await send(port)).status).toBe(503);
    release.resolve();
    expect((await first).status).toBe(200);
    const decided = [ours(await spans.next()), ours(await spans.next())];
    expect(decided).toContainEqual({ 'resilience.decision': 'shed', 'resilience.rejection.reason': 'shed' });
    expect(decided).toContainEqual({});
  });

  it('marks a request the timeout answered (the timer fires in the request’s context)', async () => {
    const { spans, start } = setup();
    const clock = new FakeClock();
    // The handler drives the clock, so the timer fires inside the request, as a real one would.
    const { port } = await start(
      (adapter) => [adapter.timeout({ ms: 1_000, clock })],
      async () => {
        await clock.advance(1_000);
        return new Promise(() => {});
      },
    );
    expect((await send(port)).status).toBe(503);
    expect(ours(await spans.next())).toEqual({ 'resilience.decision': 'timed_out' });
  });

  it('sets nothing while nobody listens', async () => {
    const { spans, start } = setup(false);
    const { port } = await start(limited);
    await send(port);
    expect((await send(port)).status).toBe(429);
    expect(ours(await spans.next())).toEqual({});
    expect(ours(await spans.next())).toEqual({});
  });
});

describe('instrumentHttpDecisions', () => {
  it('annotates the active span only, does nothing without one, and stops when disposed', () => {
    const otel = sdk();
    const tracer = otel.tracerProvider.getTracer('http');
    const stop = instrumentHttpDecisions();
    expect(() => emitHttpDecision({ decision: 'shed' })).not.toThrow(); // no span
    tracer.startActiveSpan('GET', (span) => {
      emitHttpDecision({ decision: 'store_unavailable', policy: 'api' });
      span.end();
    });
    stop();
    tracer.startActiveSpan('GET', (span) => {
      emitHttpDecision({ decision: 'shed' });
      span.end();
    });
    expect(otel.spans().map(ours)).toEqual([
      { 'resilience.decision': 'store_unavailable', 'resilience.policy.name': 'api' },
      {},
    ]);
  });
});
