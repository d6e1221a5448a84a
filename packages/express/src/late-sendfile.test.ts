// A handler that answers with `res.sendFile` or `res.download` after a `timeout` answered 503
// for it: its file is the request's answer, recorded by `idempotency` and replayed to the
// retry, as a late `res.json` is. (`send` gives up on a response it finds finished.)
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeClock } from '@resilience/core/testing';
import express, { type Response } from 'express';
import express4 from 'express4';
import { afterEach, expect, it } from 'vitest';
import { deferred, type Served, send, serve } from '../../node-server/src/testing/http.js';
import { errorHandler, idempotency, timeout } from './index.js';

let served: Served | undefined;
afterEach(() => served?.close());

const quiet = { info() {}, warn() {}, error() {} };
const dir = mkdtempSync(join(tmpdir(), 'late-sendfile-'));
const file = join(dir, 'invoice.txt');
writeFileSync(file, 'invoice 1\n');

const answers: Array<[string, (res: Response, done: (error?: Error) => void) => void]> = [
  ['res.sendFile', (res, done) => res.sendFile(file, done)],
  ['res.download', (res, done) => res.download(file, 'invoice.txt', done)],
];

it.each([
  ['express 5', express],
  ['express 4', express4 as unknown as typeof express],
])(
  '%s: a late res.sendFile and res.download are recorded and replayed to the retry; the handler runs once',
  async (_name, framework) => {
    for (const [how, answer] of answers) {
      const clock = new FakeClock(0);
      const entered = deferred();
      const release = deferred();
      const sent = deferred<Error | undefined>();
      let runs = 0;
      const app = framework();
      app.use(idempotency({ clock, logger: quiet }));
      app.use(timeout({ ms: 1_000, clock }));
      app.post('/invoices', async (_req, res) => {
        runs++;
        entered.resolve();
        await release.promise;
        answer(res, (error) => sent.resolve(error));
      });
      app.use(errorHandler({ logger: quiet }));
      served = await serve(app);
      const post = { method: 'POST', path: '/invoices', headers: { 'idempotency-key': `"${how}"` } };
      const first = send(served.port, post);
      await entered.promise;
      await clock.advance(1_000);
      expect((await first).status).toBe(503);
      release.resolve();
      expect(await sent.promise).toBeUndefined();
      const again = await send(served.port, post);
      expect([how, again.status, again.headers['idempotent-replayed'], again.text]).toEqual([
        how,
        200,
        'true',
        'invoice 1\n',
      ]);
      expect(runs).toBe(1);
      await served.close();
      served = undefined;
    }
  },
);
