// The order docs/express.md ("Order with other middleware") asks for: the CORS middleware first.
// `corsLike` does what `cors({ origin: true })` does by default (checked against the real `cors`
// package, which is not a dependency here): it answers a preflight itself with 204 and sets
// `Access-Control-Allow-Origin` (the request's origin) and `Vary: Origin` on every other request.
import { fixedWindow } from '@resilience/core';
import { FakeClock } from '@resilience/core/testing';
import express, { type NextFunction, type Request, type Response } from 'express';
import { afterEach, expect, it } from 'vitest';
import { type Served, send, serve } from '../../node-server/src/testing/http.js';
import { errorHandler, idempotency, rateLimit, timeout } from './index.js';

let served: Served | undefined;
afterEach(() => served?.close());

const quiet = { info() {}, warn() {}, error() {} };

function corsLike(req: Request, res: Response, next: NextFunction) {
  const origin = req.get('origin');
  if (origin === undefined) return next();
  res.set('Access-Control-Allow-Origin', origin).vary('Origin');
  if (req.method === 'OPTIONS' && req.get('access-control-request-method') !== undefined) {
    res.set('Access-Control-Allow-Headers', req.get('access-control-request-headers') ?? '');
    return void res.status(204).set('Content-Length', '0').end();
  }
  next();
}

function app(order: 'cors first' | 'cors last', clock: FakeClock) {
  const app = express();
  if (order === 'cors first') app.use(corsLike);
  app.use(rateLimit({ algorithm: fixedWindow({ limit: 2, windowMs: 60_000 }), clock, logger: quiet }));
  app.use(idempotency({ clock, logger: quiet }));
  if (order === 'cors last') app.use(corsLike);
  app.post('/orders', (_req, res) => res.status(201).json({ id: 1 }));
  app.use(errorHandler({ logger: quiet }));
  return app;
}

const preflight = {
  method: 'OPTIONS',
  path: '/orders',
  headers: {
    origin: 'https://a.example',
    'access-control-request-method': 'POST',
    'access-control-request-headers': 'content-type,idempotency-key',
  },
};
const post = (origin: string) => ({
  method: 'POST',
  path: '/orders',
  headers: { origin, 'content-type': 'application/json', 'idempotency-key': '"k1"' },
  body: '{}',
});

it('with the CORS middleware first, a preflight is not counted and every answer of ours carries its headers', async () => {
  served = await serve(app('cors first', new FakeClock(0)));
  for (let i = 0; i < 3; i++) expect((await send(served.port, preflight)).status).toBe(204);
  const first = await send(served.port, post('https://a.example'));
  expect(first.status).toBe(201);
  const replay = await send(served.port, post('https://b.example')); // the retry's own origin, not the recorded one
  expect(replay.headers).toMatchObject({
    'idempotent-replayed': 'true',
    'access-control-allow-origin': 'https://b.example',
  });
  const refused = await send(served.port, post('https://a.example'));
  expect(refused.status).toBe(429);
  expect(refused.headers).toMatchObject({ 'access-control-allow-origin': 'https://a.example', vary: 'Origin' });
});

it('with the CORS middleware last, a preflight is counted and a 429 goes out without its headers (why the docs ask for it first)', async () => {
  served = await serve(app('cors last', new FakeClock(0)));
  expect((await send(served.port, preflight)).status).toBe(204);
  const first = await send(served.port, post('https://a.example'));
  expect(first.headers['access-control-allow-origin']).toBe('https://a.example');
  const refused = await send(served.port, post('https://a.example')); // the preflight took one of the 2
  expect(refused.status).toBe(429);
  expect(refused.headers['access-control-allow-origin']).toBeUndefined();
});

it("a timeout's 503 keeps the CORS middleware's headers", async () => {
  const clock = new FakeClock(0);
  const a = express();
  a.use(corsLike);
  a.use(timeout({ ms: 1_000, clock }));
  a.get('/slow', () => {}); // never answers: the timeout does
  a.use(errorHandler({ logger: quiet }));
  served = await serve(a);
  const reply = send(served.port, { path: '/slow', headers: { origin: 'https://a.example' } });
  while (clock.pendingTimers === 0) await new Promise((resolve) => setImmediate(resolve));
  await clock.advance(1_000);
  const answer = await reply;
  expect(answer.status).toBe(503);
  expect(answer.headers['access-control-allow-origin']).toBe('https://a.example');
});
