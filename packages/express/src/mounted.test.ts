// Express gives a middleware mounted on a path (`app.use('/orders', …)`) the URL without that
// path: what the error handler logs must still be the path the client asked for.

import { createRequire } from 'node:module';
import { fixedWindow, recentErrors, type Store, StoreUnavailableError } from '@resilience/core';
import { FakeClock } from '@resilience/core/testing';
import express from 'express';
import { afterEach, expect, it } from 'vitest';
import { type Served, send, serve } from '../../node-server/src/testing/http.js';
import { errorHandler, rateLimit, timeout } from './index.js';

let served: Served | undefined;
afterEach(() => served?.close());

const fail = () => Promise.reject(new StoreUnavailableError('store down'));
const down: Store = { apply: fail, applyAll: fail, get: fail, set: fail, delete: fail, keys: fail };

it('logs a refusal answered inside a middleware mounted on a path with the whole path, never the query', async () => {
  const lines: Array<{ fields: Record<string, unknown>; message: string }> = [];
  const logger = {
    info() {},
    error() {},
    warn: (fields: Record<string, unknown>, message: string) => lines.push({ fields, message }),
  };
  const app = express();
  const quiet = { info() {}, warn() {}, error() {} };
  app.use(
    '/orders',
    rateLimit({
      algorithm: fixedWindow({ limit: 5, windowMs: 60_000 }),
      store: down,
      onStoreError: 'closed',
      logger: quiet,
    }),
  );
  app.post('/orders/:id', (_req, res) => res.json({}));
  app.use(errorHandler({ logger }));
  served = await serve(app);
  expect((await send(served.port, { method: 'POST', path: '/orders/42?token=secret' })).status).toBe(503);
  expect(lines).toEqual([
    expect.objectContaining({
      fields: expect.objectContaining({ path: '/orders/42', code: 'store_unavailable' }),
      message: expect.stringMatching(/^POST \/orders\/42 refused/),
    }),
  ]);
  expect(JSON.stringify(lines)).not.toMatch(/secret/);
});

it("names a route in a router mounted on a path with parameters by the router's own pattern, as a thrown error, never the URL's values", async () => {
  const clock = new FakeClock();
  const errors = recentErrors({ clock });
  const app = express();
  app.use(timeout({ ms: 1_000, clock }));
  const reset = express.Router();
  reset.get('/confirm', () => {}); // never answers: the timeout does
  app.use('/reset/:token', reset);
  app.use(errorHandler({ recentErrors: errors, logger: { info() {}, warn() {}, error() {} } }));
  served = await serve(app);
  const reply = send(served.port, { path: '/reset/secret-token-7/confirm' });
  while (clock.pendingTimers === 0) await new Promise((resolve) => setImmediate(resolve));
  await clock.advance(1_000);
  expect((await reply).status).toBe(503);
  expect(errors.list()).toMatchObject([{ route: 'GET /confirm', status: 503 }]);
});

it('records an answer of its own in an errorHandler of another copy of this package (an ESM app requiring the CJS entry too)', async () => {
  const other = createRequire(import.meta.url)('../dist/index.cjs') as typeof import('./index.js');
  expect(other.errorHandler).not.toBe(errorHandler);
  const lines: string[] = [];
  const logger = { info() {}, error() {}, warn: (_fields: unknown, message: string) => lines.push(message) };
  const app = express();
  const quiet = { info() {}, warn() {}, error() {} };
  app.use(
    rateLimit({
      algorithm: fixedWindow({ limit: 5, windowMs: 60_000 }),
      store: down,
      onStoreError: 'closed',
      logger: quiet,
    }),
  );
  app.post('/orders', (_req, res) => res.json({}));
  app.use(other.errorHandler({ logger }));
  served = await serve(app);
  expect((await send(served.port, { method: 'POST', path: '/orders' })).status).toBe(503);
  expect(lines).toEqual([expect.stringMatching(/^POST \/orders refused/)]);
});
