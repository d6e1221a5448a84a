// Two copies of this package in one process, as an app has them when it imports the ESM build of
// @resilience/express (or koa) and a CommonJS module of it requires the CJS build: each build
// bundles its own copy of these sources. Built here from the sources (no earlier `pnpm build`,
// never a stale dist), once as ESM and once as CommonJS, as the adapters' builds do.
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { memoryStore } from '@resilience/core';
import { build } from 'esbuild';
import express from 'express';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { deferred, type Served, send, serve } from './testing/http.js';

type NodeServer = typeof import('./index.js');

const source = (path: string) => fileURLToPath(new URL(path, import.meta.url));
const CORE: Record<string, string> = {
  '@resilience/core': source('../../core/src/index.ts'),
  '@resilience/core/internal': source('../../core/src/internal.ts'),
};

let dir: string;
let esm: NodeServer;
let cjs: NodeServer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'node-server-copies-'));
  for (const format of ['esm', 'cjs'] as const) {
    await build({
      entryPoints: [source('./index.ts')],
      outfile: join(dir, format === 'esm' ? 'index.mjs' : 'index.cjs'),
      bundle: true,
      format,
      platform: 'node',
      target: 'node20',
      logLevel: 'silent',
      plugins: [
        {
          name: 'core-from-source',
          setup: (b) =>
            b.onResolve({ filter: /^@resilience\/core(\/internal)?$/ }, (args) => ({ path: CORE[args.path]! })),
        },
      ],
    });
  }
  esm = (await import(pathToFileURL(join(dir, 'index.mjs')).href)) as NodeServer;
  cjs = createRequire(join(dir, 'index.cjs'))('./index.cjs') as NodeServer;
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

let served: Served | undefined;
afterEach(async () => {
  await served?.close();
  served = undefined;
});

/** Serves `handler` as plain node:http, through Express, or on a response of another prototype without `locals`. */
const SERVERS: Record<string, (handler: http.RequestListener) => http.RequestListener> = {
  'node:http (Koa)': (handler) => handler,
  Express: (handler) => express().use(handler as express.RequestHandler) as unknown as http.RequestListener,
  'a response of another prototype (HTTP/2 compatibility API)': (handler) => (req, res) => {
    Object.setPrototypeOf(res, Object.create(http.ServerResponse.prototype));
    handler(req, res);
  },
};

describe('two copies of the package (ESM and CommonJS builds) share the state of a request', () => {
  it.each(Object.keys(SERVERS))(
    'the signal one copy gives is aborted by the timeout of the other (%s)',
    async (kind) => {
      const arm = esm.timeoutArm({ ms: 50 });
      const seen = deferred<[boolean, unknown]>();
      served = await serve(
        SERVERS[kind]!((_req, res) => {
          arm(res, () => {
            const signal = cjs.requestSignal(res); // a route handler in a CommonJS module, which never answers
            // Closed once the timeout has answered and aborted: the signal is read then, no wait of our own.
            res.once('close', () => seen.resolve([signal.aborted, (signal.reason as Error | undefined)?.name]));
          });
        }),
      );
      const reply = await send(served.port);
      expect(reply.status).toBe(503);
      expect(await seen.promise).toEqual([true, 'RequestTimeoutError']);
    },
  );

  it('idempotency mounted from both copies on one request is decided once, by the first (no 409 from the second)', async () => {
    const store = memoryStore(); // one store: the same key, claimed twice, would be in flight (409)
    const steps = [esm, cjs].map((copy) =>
      copy.idempotencyStep<http.IncomingMessage>(
        { store },
        { body: () => undefined, setBody() {}, path: (req) => req.url ?? '/', request: (req) => req },
      ),
    );
    let runs = 0;
    served = await serve(async (req, res) => {
      for (const step of steps) {
        const decided: unknown = await step(req, res);
        if (typeof decided === 'object' && decided !== null) {
          res.statusCode = (decided as { status: number }).status; // an answer of the middleware's own
          res.end();
          return;
        }
      }
      runs++;
      res.statusCode = 201;
      res.end('{"id":1}');
    });
    const post = {
      method: 'POST',
      body: '{}',
      headers: { 'content-type': 'application/json', 'idempotency-key': '"k"' },
    };
    expect((await send(served.port, post)).status).toBe(201);
    expect(runs).toBe(1);
  });

  it('a correlation id asked of one copy is the one the other gives, and an abort by one reaches the signal of the other', async () => {
    const seen = deferred<unknown[]>();
    served = await serve((_req, res) => {
      const id = cjs.requestCorrelationId(res);
      const signal = esm.requestSignal(res);
      cjs.abortRequest(res, new Error('stop'));
      seen.resolve([
        esm.requestCorrelationId(res) === id,
        signal.aborted,
        (signal.reason as Error | undefined)?.message,
      ]);
      res.end();
    });
    await send(served.port);
    expect(await seen.promise).toEqual([true, true, 'stop']);
  });
});
