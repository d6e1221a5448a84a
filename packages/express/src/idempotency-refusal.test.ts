// An idempotency middleware's own refusals (409, 422, 400, 413) are never a response to replay,
// whoever captured them. One request reaching two idempotency middlewares is decided by the
// first (see the conformance suite); here an app that replaces `res.locals` with a new object
// between them drops what tells the second so, and the second refuses: its refusal must still
// not become the first one's record.
import { memoryStore } from '@resilience/core';
import express, { type RequestHandler } from 'express';
import { afterEach, expect, it } from 'vitest';
import { type Served, send, serve } from '../../node-server/src/testing/http.js';
import { idempotency } from './index.js';

let served: Served | undefined;
afterEach(() => served?.close());

const quiet = { info() {}, warn() {}, error() {} };
const freshLocals: RequestHandler = (_req, res, next) => {
  res.locals = {};
  next();
};

/** Two POSTs with one key through `outer`, a middleware that replaces `res.locals`, `inner`, and the route. */
async function twice(outer: RequestHandler, inner: RequestHandler) {
  let runs = 0;
  const app = express();
  app.use(outer, freshLocals, inner);
  app.post('/orders', (_req, res) => {
    runs++;
    res.status(201).json({ order: runs });
  });
  served = await serve(app);
  const answers: Array<[number, unknown]> = [];
  for (let i = 0; i < 2; i++) {
    const res = await send(served.port, {
      method: 'POST',
      path: '/orders',
      headers: { 'content-type': 'application/json', 'idempotency-key': '"refusal-1"' },
      body: '{"item":"book"}',
    });
    answers.push([res.status, res.headers['idempotent-replayed'] ?? null]);
  }
  return { answers, runs };
}

it("never records a second idempotency middleware's 409 (the first one's claim on the key) as the first one's answer", async () => {
  const store = memoryStore();
  const { answers, runs } = await twice(idempotency({ logger: quiet, store }), idempotency({ logger: quiet, store }));
  expect(answers).toEqual([
    [409, null],
    [409, null],
  ]);
  expect(runs).toBe(0);
});

it("never records a second idempotency middleware's 400 (its required key missing) as the first one's answer", async () => {
  const { answers, runs } = await twice(
    idempotency({ logger: quiet }),
    idempotency({ logger: quiet, header: 'x-order-key', required: true }),
  );
  expect(answers).toEqual([
    [400, null],
    [400, null],
  ]);
  expect(runs).toBe(0);
});
