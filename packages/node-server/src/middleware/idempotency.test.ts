import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { type Served, send, serve } from '../testing/http.js';
import { idempotencyStep } from './idempotency.js';

let served: Served | undefined;
afterEach(async () => {
  await served?.close();
  served = undefined;
});

const port = {
  body: () => undefined,
  setBody() {},
  path: (req: IncomingMessage) => req.url ?? '/',
  request: (req: IncomingMessage) => req,
};

describe('idempotencyStep', () => {
  it('decides a request it has nothing to do with at once, without a promise (a GET, a POST without a key)', async () => {
    const step = idempotencyStep<IncomingMessage>({}, port);
    const steps: unknown[] = [];
    served = await serve(async (req, res: ServerResponse) => {
      const result = step(req, res);
      steps.push(result instanceof Promise ? 'promise' : result);
      if (result instanceof Promise) await result;
      res.end();
    });
    await send(served.port, { method: 'GET' });
    await send(served.port, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    await send(served.port, {
      method: 'POST',
      body: '{}',
      headers: { 'content-type': 'application/json', 'idempotency-key': '"k"' },
    });
    expect(steps).toEqual([undefined, undefined, 'promise']);
  });

  it('names a minKeyLength above the longest key (255) with its other bad options, in one idempotency error', () => {
    expect(() => idempotencyStep({ minKeyLength: 300 }, port)).toThrow(
      'Invalid idempotency options: minKeyLength: received 300, expected an integer >= 1 <= 255',
    );
    expect(() => idempotencyStep({ minKeyLength: 300, maxBodyBytes: -1 }, port)).toThrow(
      'Invalid idempotency options: maxBodyBytes: received -1, expected an integer >= 0; minKeyLength: received 300, expected an integer >= 1 <= 255',
    );
    expect(() => idempotencyStep({ minKeyLength: 255 }, port)).not.toThrow();
  });

  it("points express-idempotency's intentValidator to what takes its place", () => {
    expect(() => idempotencyStep({ intentValidator: { isValidIntent: () => true } } as never, port)).toThrow(
      "Invalid idempotency options: intentValidator: received {}, expected a known option (another library's? here: none: a fingerprint of the method, path, query and body; another request under the key is a 422)",
    );
  });

  it('refuses an empty methods list: the middleware would never apply', () => {
    expect(() => idempotencyStep({ methods: [] }, port)).toThrow(
      "Invalid idempotency options: methods: received [], expected a list of methods such as ['POST', 'PATCH']",
    );
    expect(() => idempotencyStep({ methods: ['PUT'] }, port)).not.toThrow();
  });
});
