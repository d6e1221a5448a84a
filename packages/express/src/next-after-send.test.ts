// A handler that answers, then passes an error on (`res.json(…); next(err)`: an audit write
// that failed after the answer). Express reaches the error handler before the response has
// closed: the answer the client got must still be the key's record, never a second run.
import express from 'express';
import express4 from 'express4';
import { afterEach, expect, it } from 'vitest';
import { type Served, send, serve } from '../../node-server/src/testing/http.js';
import { errorHandler, idempotency } from './index.js';

let served: Served | undefined;
afterEach(() => served?.close());

const quiet = { info() {}, warn() {}, error() {} };

it.each([
  ['express 5', express],
  ['express 4', express4 as unknown as typeof express],
])(
  '%s: records and replays the answer of a handler that calls next(err) after res.json; it runs once',
  async (_name, framework) => {
    let runs = 0;
    const app = framework();
    app.use(idempotency({ logger: quiet }));
    app.post('/orders', (_req, res, next) => {
      runs++;
      res.status(201).json({ id: runs });
      next(new Error('audit log down'));
    });
    app.use(errorHandler({ logger: quiet }));
    served = await serve(app);
    const post = {
      method: 'POST',
      path: '/orders',
      headers: { 'content-type': 'application/json', 'idempotency-key': '"order-1"' },
      body: '{}',
    };
    const first = await send(served.port, post);
    expect([first.status, first.text]).toEqual([201, '{"id":1}']);
    let again = await send(served.port, post);
    for (let i = 0; i < 50 && again.status === 409; i++) again = await send(served.port, post);
    expect([again.status, again.headers['idempotent-replayed'], again.text]).toEqual([201, 'true', '{"id":1}']);
    expect(runs).toBe(1);
  },
);
