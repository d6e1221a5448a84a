import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { type EventLogger, fixedWindow } from '@resilience/core';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { errorHandler, rateLimit } from './index.js';

const servers: http.Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

type Mount = (app: express.Express, logger: EventLogger) => void;

/** The warnings errorHandler logs over three requests to a route that throws, and the statuses. */
async function run(mount: Mount) {
  const warned: string[] = [];
  const logger: EventLogger = {
    info() {},
    error() {},
    warn: (_: unknown, message: string) => void warned.push(message),
  };
  const app = express();
  mount(app, logger);
  const server = http.createServer(app);
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/orders`;
  const types: (string | null)[] = [];
  for (let i = 0; i < 3; i++) types.push((await fetch(url)).headers.get('content-type'));
  return { warned, types };
}

const limit = () => rateLimit({ algorithm: fixedWindow({ limit: 100, windowMs: 60_000 }) });
const route = (app: express.Express) =>
  app.get('/orders', () => {
    throw new Error('boom');
  });

describe('Express errorHandler mounted before the routes', () => {
  it('warns once, naming the fix: the routes’ errors never reach it', async () => {
    const { warned, types } = await run((app, logger) => {
      app.use(errorHandler({ logger }));
      app.use(limit());
      route(app);
    });
    expect(types[0]).toMatch(/text\/html/); // Express's default answer: the reason for the warning
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatch(/errorHandler is mounted before routes.*mount it last/);
  });

  it('warns for a router mounted after it too', async () => {
    const { warned } = await run((app, logger) => {
      app.use(limit());
      app.use(errorHandler({ logger }));
      const router = express.Router();
      route(router as unknown as express.Express);
      app.use(router);
    });
    expect(warned).toHaveLength(1);
  });

  it('says nothing when it is mounted last', async () => {
    const { warned, types } = await run((app, logger) => {
      app.use(limit());
      route(app);
      app.use((_req, res, next) => (res.headersSent ? undefined : next())); // a layer after the routes, not one
      app.use(errorHandler({ logger }));
    });
    expect(types[0]).toBe('application/problem+json');
    expect(warned).toEqual([]);
  });
});
