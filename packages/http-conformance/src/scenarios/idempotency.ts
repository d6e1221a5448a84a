import { BrokenCircuitError, fixedWindow, memoryStore, PROBLEM_TYPES, type Store } from '@resilience/core';
import { FakeClock } from '@resilience/core/testing';
import { expect } from 'vitest';
import { abandonedRequest, deferred } from '../context.js';
import { type Context, counter, problemOf, retryPast409, type Scenario } from '../scenario.js';
import type { Reply } from '../types.js';
import { downStore } from './rate-limit.js';

const KEY = '"8e03978e-40d5-43e8-bc93-6894a57f9324"';
const post = (body: unknown, key: string | null = KEY, headers: Record<string, string> = {}): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', ...(key === null ? {} : { 'idempotency-key': key }), ...headers },
  body: typeof body === 'string' ? body : JSON.stringify(body),
});

/** An app whose POST /orders answers `reply` and counts its runs. */
async function ordersApp(t: Context, reply: Reply, options: Parameters<Context['m']['idempotency']>[0] = {}) {
  const runs = counter();
  const app = await t.serve([
    t.m.idempotency({ logger: t.logger(), ...options }),
    t.m.route('POST', '/orders', () => runs.add(reply)),
  ]);
  return { app, runs };
}

/** What a client can compare of two responses: status, the headers that describe the body, the bytes. */
async function seen(res: Response) {
  const bytes = Buffer.from(await res.arrayBuffer());
  return {
    status: res.status,
    type: res.headers.get('content-type'),
    location: res.headers.get('location'),
    etag: res.headers.get('etag'),
    bytes: bytes.toString('base64'),
  };
}

/** An app of errorHandler, idempotency and one `POST /orders` route answered by `handler`. */
const ordersBehindErrorHandler = (t: Context, handler: Parameters<Context['m']['route']>[2]) =>
  t.serve([
    t.m.errorHandler({ logger: t.logger() }),
    t.m.idempotency({ logger: t.logger() }),
    t.m.route('POST', '/orders', handler),
  ]);

const replays = (name: string, reply: Reply): Scenario => ({
  area: 'idempotency',
  name: `replays ${name} byte for byte with Idempotent-Replayed, without running the handler`,
  async run(t) {
    const { app, runs } = await ordersApp(t, reply);
    const first = await app.fetch('/orders', post({ item: 'book' }));
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    const original = await seen(first);
    const again = await app.fetch('/orders', post({ item: 'book' }));
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await seen(again)).toEqual(original);
    expect(runs.runs).toBe(1);
  },
});

export const idempotencyScenarios: Scenario[] = [
  {
    area: 'idempotency',
    name: 'replays a 204 as it was sent: no Content-Length (RFC 9110 §8.6 forbids one on a 204) and no body',
    async run(t) {
      const { app, runs } = await ordersApp(t, { status: 204 });
      const first = await app.fetch('/orders', post({ item: 'book' }));
      const again = await app.fetch('/orders', post({ item: 'book' }));
      const shown = async (res: Response) => [
        res.status,
        res.headers.get('content-length'),
        (await res.arrayBuffer()).byteLength,
      ];
      expect(await shown(first)).toEqual([204, null, 0]);
      expect(await shown(again)).toEqual([204, null, 0]);
      expect([again.headers.get('idempotent-replayed'), runs.runs]).toEqual(['true', 1]);
    },
  },
  replays('a JSON response (status, Location, ETag)', {
    status: 201,
    headers: { location: '/orders/1', etag: '"v1"' },
    json: { id: 1, item: 'book', note: 'café ☕' },
  }),
  replays('a text response', { status: 200, text: 'created order 1' }),
  replays('a binary response', {
    status: 200,
    headers: { 'content-type': 'application/octet-stream' },
    bytes: new Uint8Array([0, 255, 128, 10, 13, 0xc3]),
  }),
  // Its record (base64, 4/3 of it) is over core's maxRecordBytes default: maxBodyBytes is the bound here.
  replays('a binary response of maxBodyBytes (1 MiB)', {
    status: 200,
    headers: { 'content-type': 'application/octet-stream' },
    bytes: new Uint8Array(1_048_576).fill(0xc3),
  }),
  replays('a streamed response', {
    status: 202,
    headers: { 'content-type': 'text/plain' },
    chunks: ['one,', 'two,', 'three'],
  }),
  {
    area: 'idempotency',
    name: 'with HEAD among methods, a replayed HEAD keeps the Content-Length of the first (the GET body it stands for), not 0',
    async run(t) {
      const runs = counter();
      const app = await t.serve([
        t.m.idempotency({ methods: ['HEAD'], logger: t.logger() }),
        t.m.route('HEAD', '/report', () => runs.add({ status: 200, json: { rows: 3, note: 'café' } })),
      ]);
      const head = async () => {
        const res = await app.fetch('/report', { method: 'HEAD', headers: { 'idempotency-key': KEY } });
        const NAMES = ['content-type', 'content-length', 'idempotent-replayed'];
        return [res.status, ...NAMES.map((n) => res.headers.get(n)), await res.text()];
      };
      const length = String(Buffer.byteLength(JSON.stringify({ rows: 3, note: 'café' })));
      expect(await head()).toEqual([200, 'application/json; charset=utf-8', length, null, '']);
      expect(await head()).toEqual([200, 'application/json; charset=utf-8', length, 'true', '']);
      expect(runs.runs).toBe(1);
    },
  },
  {
    area: 'idempotency',
    name: 'a replayed HEAD whose first answer had no Content-Length (a streamed body) has none either: not 0, nor the bytes Node never sent',
    async run(t) {
      const app = await t.serve([
        t.m.idempotency({ methods: ['HEAD'], logger: t.logger() }),
        t.m.route('HEAD', '/export', () => ({
          status: 200,
          headers: { 'content-type': 'text/csv' },
          chunks: ['a,b\n'],
        })),
      ]);
      const head = async () => {
        const res = await app.fetch('/export', { method: 'HEAD', headers: { 'idempotency-key': KEY } });
        return [
          res.status,
          res.headers.get('content-length'),
          res.headers.get('idempotent-replayed'),
          await res.text(),
        ];
      };
      expect(await head()).toEqual([200, null, null, '']);
      expect(await head()).toEqual([200, null, 'true', '']);
    },
  },
  {
    area: 'idempotency',
    name: 'answers a repeat while the first is in flight with 409 problem+json; 50 concurrent duplicates run the handler once',
    async run(t) {
      const release = deferred();
      const entered = deferred();
      const runs = counter();
      const app = await t.serve([
        t.m.idempotency({ logger: t.logger() }),
        t.m.route('POST', '/orders', async () => {
          runs.add();
          entered.resolve();
          await release.promise;
          return { status: 201, json: { id: 1 } };
        }),
      ]);
      let answered = 0;
      const others = deferred();
      const all = Array.from({ length: 50 }, () =>
        app.fetch('/orders', post({ item: 'book' })).then((r) => {
          if (++answered === 49) others.resolve();
          return r;
        }),
      );
      // The 49 duplicates are answered while the first is still running.
      await others.promise;
      expect(runs.runs).toBe(1);
      release.resolve();
      const responses = await Promise.all(all);
      const statuses = responses.map((r) => r.status).sort();
      expect(statuses.filter((s) => s === 201)).toHaveLength(1);
      expect(statuses.filter((s) => s === 409)).toHaveLength(49);
      const conflict = responses.find((r) => r.status === 409)!;
      expect(await problemOf(conflict)).toMatchObject({ type: PROBLEM_TYPES.idempotency_key_in_use, status: 409 });
      expect(runs.runs).toBe(1);
      const later = await app.fetch('/orders', post({ item: 'book' }));
      expect([later.status, later.headers.get('idempotent-replayed')]).toEqual([201, 'true']);
      expect(runs.runs).toBe(1);
    },
  },
  {
    area: 'idempotency',
    name: 'answers the same key with another payload 422; key order in the JSON body does not matter',
    async run(t) {
      const { app, runs } = await ordersApp(t, { status: 201, json: { id: 1 } });
      expect((await app.fetch('/orders', post({ item: 'book', qty: 1 }))).status).toBe(201);
      const reordered = await app.fetch('/orders', post('{"qty":1,"item":"book"}'));
      expect([reordered.status, reordered.headers.get('idempotent-replayed')]).toEqual([201, 'true']);
      const other = await app.fetch('/orders', post({ item: 'pen', qty: 1 }));
      expect(other.status).toBe(422);
      expect(await problemOf(other)).toMatchObject({ type: PROBLEM_TYPES.idempotency_key_reused, status: 422 });
      expect(runs.runs).toBe(1);
    },
  },
  {
    area: 'idempotency',
    name: 'refuses malformed keys with 400 problem+json: unquoted, empty, over 255 characters, shorter than minKeyLength',
    async run(t) {
      const { app, runs } = await ordersApp(t, { status: 201, json: {} }, { minKeyLength: 8 });
      const bad = ['8e03978e-40d5-43e8-bc93-6894a57f9324', '""', `"${'k'.repeat(256)}"`, '"short"', '"bad\\x-escape"'];
      for (const key of bad) {
        const res = await app.fetch('/orders', post({}, key));
        expect(res.status, key).toBe(400);
        expect(await problemOf(res)).toMatchObject({ type: PROBLEM_TYPES.idempotency_key_invalid, status: 400 });
      }
      const empty = await app.fetch('/orders', post({}, ''));
      expect(empty.status).toBe(201); // an empty header is no key: the request goes on unrecorded
      expect(runs.runs).toBe(1);
    },
  },
  {
    area: 'idempotency',
    name: 'with required: true a missing key is 400; other methods pass untouched',
    async run(t) {
      const runs = counter();
      const app = await t.serve([
        t.m.idempotency({ required: true, logger: t.logger() }),
        t.m.route('POST', '/orders', () => runs.add({ status: 201, json: {} })),
        t.m.route('GET', '/orders', () => runs.add({ json: [] })),
      ]);
      const res = await app.fetch('/orders', post({}, null));
      expect(res.status).toBe(400);
      expect(await problemOf(res)).toMatchObject({ type: PROBLEM_TYPES.idempotency_key_missing });
      expect((await app.fetch('/orders')).status).toBe(200);
      expect(runs.runs).toBe(1);
    },
  },
  {
    area: 'idempotency',
    name: "looks keys up by scope: one user's key never replays another user's response",
    async run(t) {
      let n = 0;
      const app = await t.serve([
        t.m.idempotency({ scope: (c) => t.m.header(c, 'x-user'), logger: t.logger() }),
        t.m.route('POST', '/orders', () => ({ status: 201, json: { order: ++n } })),
      ]);
      const as = (user: string) => app.fetch('/orders', post({ item: 'book' }, KEY, { 'x-user': user }));
      expect(await (await as('alice')).json()).toEqual({ order: 1 });
      expect(await (await as('bob')).json()).toEqual({ order: 2 });
      expect(await (await as('alice')).json()).toEqual({ order: 1 });
    },
  },
  {
    area: 'idempotency',
    name: 'a scope core cannot keep as it is (over 1 024 characters: a token; a lone surrogate) is kept as its digest: no 500, and scopes stay apart',
    async run(t) {
      let n = 0;
      const scopes: Record<string, string> = {
        long: 'a'.repeat(1_025),
        longer: `${'a'.repeat(1_025)}b`,
        lone: '\uD800user',
        other: '\uDC00user', // the same UTF-8 as 'lone' once each surrogate is replaced
      };
      const app = await t.serve([
        t.m.idempotency({ scope: (c) => scopes[t.m.header(c, 'x-user')!], logger: t.logger() }),
        t.m.route('POST', '/orders', () => ({ status: 201, json: { order: ++n } })),
      ]);
      const as = async (user: string) => {
        const res = await app.fetch('/orders', post({ item: 'book' }, KEY, { 'x-user': user }));
        expect(res.status).toBe(201);
        return res.json();
      };
      expect(await as('long')).toEqual({ order: 1 });
      expect(await as('longer')).toEqual({ order: 2 });
      expect(await as('lone')).toEqual({ order: 3 });
      expect(await as('other')).toEqual({ order: 4 });
      expect(await as('long')).toEqual({ order: 1 }); // replayed
      expect(await as('other')).toEqual({ order: 4 });
    },
  },
  {
    area: 'idempotency',
    name: 'a scope that returns an empty string is a 500 whose log names scope, and runs nothing (never one scope for all)',
    async run(t) {
      const runs = counter();
      const logger = t.logger();
      const app = await t.serve([
        t.m.errorHandler({ logger }),
        t.m.idempotency({ scope: () => '', logger: t.logger() }),
        t.m.route('POST', '/orders', () => runs.add({ status: 201, json: { id: 1 } })),
      ]);
      expect((await app.fetch('/orders', post({}))).status).toBe(500);
      expect(runs.runs).toBe(0);
      expect(logger.lines.map((l) => l.message)).toEqual([
        expect.stringContaining('idempotency: scope returned an empty string: return a non-empty string'),
      ]);
    },
  },
  {
    area: 'idempotency',
    name: 'does not record a 5xx (the client may retry) but records and replays a 4xx',
    async run(t) {
      const answers: Reply[] = [
        { status: 503, json: { retry: true } },
        { status: 201, json: { id: 1 } },
      ];
      const client: Reply[] = [{ status: 404, json: { missing: true } }];
      const runs = counter();
      const app = await t.serve([
        t.m.idempotency({ logger: t.logger() }),
        t.m.route('POST', '/orders', () => runs.add(answers.shift()!)),
        t.m.route('POST', '/lookups', () => runs.add(client[0]!)),
      ]);
      expect((await app.fetch('/orders', post({}))).status).toBe(503);
      expect((await app.fetch('/orders', post({}))).status).toBe(201);
      expect((await app.fetch('/orders', post({}))).headers.get('idempotent-replayed')).toBe('true');
      const key = '"lookup-key-1"';
      expect((await app.fetch('/lookups', post({}, key))).status).toBe(404);
      const replay = await app.fetch('/lookups', post({}, key));
      expect([replay.status, replay.headers.get('idempotent-replayed')]).toEqual([404, 'true']);
      expect(runs.runs).toBe(3);
    },
  },
  {
    area: 'idempotency',
    name: 'leaves a keyed body it read parsed for a handler without a parser, with its bytes on rawBody; a JSON parser after it parses it as without a key',
    async run(t) {
      const app = await t.serve([
        t.m.idempotency({ logger: t.logger() }),
        t.m.route('POST', '/json', (r) => ({ json: { got: r.body ?? null } }), { parser: 'json' }),
        t.m.route('POST', '/none', (r) => ({ json: { got: r.body ?? null, raw: r.rawBody != null } })),
      ]);
      let n = 0;
      const send = async (path: string, body: string, type: string, key: string | null) => {
        const res = await app.fetch(path, post(body, key, { 'content-type': type }));
        return [res.status, await res.json()];
      };
      // Behind a JSON parser: the same status and body for the handler with a key as without.
      for (const body of ['{"a":1}', '']) {
        const keyed = await send('/json', body, 'application/json', `"b-${++n}"`);
        expect(keyed).toEqual(await send('/json', body, 'application/json', null));
        expect(keyed).toEqual([200, { got: body === '' ? {} : { a: 1 } }]);
      }
      // Without one: the handler finds what the middleware read, parsed as the usual parsers would.
      expect(await send('/none', '{"a":1}', 'application/json', '"b-none-1"')).toEqual([
        200,
        { got: { a: 1 }, raw: true },
      ]);
      expect(await send('/none', 'hello', 'text/plain', '"b-none-2"')).toEqual([200, { got: 'hello', raw: true }]);
      expect(await send('/none', '{"a":1}', 'application/json', null)).toEqual([200, { got: null, raw: false }]);
    },
  },
  {
    area: 'idempotency',
    name: 'reads the raw body itself and puts it back for a downstream parser, which parses JSON and text as it would without a key',
    async run(t) {
      const bodies: unknown[] = [];
      const app = await t.serve([
        t.m.idempotency({ logger: t.logger() }),
        t.m.route(
          'POST',
          '/json',
          (r) => {
            bodies.push(r.body);
            return { json: { got: r.body } };
          },
          { parser: 'json' },
        ),
        t.m.route(
          'POST',
          '/text',
          (r) => {
            bodies.push(r.body);
            return { text: 'ok' };
          },
          { parser: 'text' },
        ),
      ]);
      const res = await app.fetch('/json', post({ nested: { a: [1, 2] } }));
      expect(await res.json()).toEqual({ got: { nested: { a: [1, 2] } } });
      const text = await app.fetch('/text', {
        method: 'POST',
        headers: { 'content-type': 'text/plain', 'idempotency-key': '"t-1"' },
        body: 'not json at all',
      });
      expect(text.status).toBe(200);
      expect(bodies).toEqual([{ nested: { a: [1, 2] } }, 'not json at all']);
    },
  },
  {
    area: 'idempotency',
    name: 'fingerprints what an upstream body parser left when one ran first',
    async run(t) {
      const runs = counter();
      const app = await t.serve([
        t.m.parser('json'),
        t.m.idempotency({ logger: t.logger() }),
        t.m.route('POST', '/orders', (r) => runs.add({ status: 201, json: { got: r.body } })),
      ]);
      expect(await (await app.fetch('/orders', post({ a: 1, b: 2 }))).json()).toEqual({ got: { a: 1, b: 2 } });
      expect((await app.fetch('/orders', post('{"b":2,"a":1}'))).headers.get('idempotent-replayed')).toBe('true');
      expect((await app.fetch('/orders', post({ a: 2 }))).status).toBe(422);
      expect(runs.runs).toBe(1);
    },
  },
  {
    area: 'idempotency',
    name: "answers a body over maxBodyBytes with 413 (the handler never runs); one that does not parse is the parser's to answer, with a key as without",
    async run(t) {
      const { app, runs } = await ordersApp(t, { status: 201, json: {} }, { maxBodyBytes: 1_024 });
      const large = await app.fetch('/orders', post({ text: 'x'.repeat(2_000) }));
      expect([large.status, large.headers.get('connection')]).toEqual([413, 'close']);
      expect(await problemOf(large)).toMatchObject({ type: PROBLEM_TYPES.payload_too_large, status: 413 });
      expect(runs.runs).toBe(0);
      // No parser reads it: the handler runs, as without a key.
      expect((await app.fetch('/orders', post('{"item": "book"'))).status).toBe(201);
      const parsed = await t.serve([
        t.m.idempotency({ logger: t.logger() }),
        t.m.route('POST', '/orders', () => ({ status: 201, json: {} }), { parser: 'json' }),
      ]);
      for (const key of ['"b-1"', null]) {
        const broken = await parsed.fetch('/orders', post('{"item": "book"', key));
        expect([key, broken.status]).toEqual([key, 400]);
        await broken.arrayBuffer();
      }
    },
  },
  {
    area: 'idempotency',
    name: 'leaves a body in a content coding it cannot decode to the parser after it (415), with a key as without; without a parser the handler runs',
    async run(t) {
      const { app, runs } = await ordersApp(t, { status: 201, json: {} });
      expect((await app.fetch('/orders', post('{}', KEY, { 'content-encoding': 'zstd' }))).status).toBe(201);
      expect(runs.runs).toBe(1);
      const parsed = await t.serve([
        t.m.idempotency({ logger: t.logger() }),
        t.m.route('POST', '/orders', () => ({ status: 201, json: {} }), { parser: 'json' }),
      ]);
      for (const key of ['"z-1"', null]) {
        const coded = await parsed.fetch('/orders', post('{}', key, { 'content-encoding': 'zstd' }));
        expect([key, coded.status]).toEqual([key, 415]);
        await coded.arrayBuffer();
      }
    },
  },
  {
    area: 'idempotency',
    name: 'says when a response is too large to record (Idempotency-Not-Recorded and a log line); a repeat runs again',
    async run(t) {
      const logger = t.logger();
      const runs = counter();
      const app = await t.serve([
        t.m.idempotency({ maxBodyBytes: 1_024, logger }),
        t.m.route('POST', '/export', () => runs.add({ text: 'y'.repeat(4_096) })),
      ]);
      const first = await app.fetch('/export', post({}));
      expect(first.headers.get('idempotency-not-recorded')).toBe('body-too-large');
      expect((await first.text()).length).toBe(4_096);
      expect(logger.lines.map((l) => l.level)).toEqual(['warn']);
      expect((await app.fetch('/export', post({}))).headers.get('idempotent-replayed')).toBeNull();
      expect(runs.runs).toBe(2);
    },
  },
  {
    area: 'idempotency',
    name: 'a client that leaves while its request runs: a retry with its key gets 409 while the handler runs, then the first run replayed, never a second run',
    async run(t) {
      const runs = counter();
      const entered = deferred();
      const left = deferred();
      const finish = deferred();
      const app = await t.serve([
        t.m.idempotency({ logger: t.logger() }),
        t.m.route('POST', '/orders', async (r) => {
          if (runs.runs === 0) {
            r.signal().addEventListener('abort', () => left.resolve());
            entered.resolve();
            await finish.promise; // a second run (the defect) does not wait
          }
          return runs.add({ status: 201, headers: { location: '/orders/1' }, json: { charged: runs.runs + 1 } });
        }),
      ]);
      const headers = { 'content-type': 'application/json', 'content-length': '2', 'idempotency-key': KEY };
      await abandonedRequest(app.port, { method: 'POST', path: '/orders', headers, body: '{}' }, entered.promise);
      await left.promise;
      expect((await app.fetch('/orders', post({}))).status).toBe(409);
      finish.resolve();
      // The first run's response is recorded as its handler ends; until then a retry is 409.
      const retried = await retryPast409(app, '/orders', post({}));
      expect([retried.status, retried.headers.get('idempotent-replayed'), retried.headers.get('location')]).toEqual([
        201,
        'true',
        '/orders/1',
      ]);
      expect(await retried.json()).toEqual({ charged: 1 });
      expect(runs.runs).toBe(1);
    },
  },
  {
    area: 'idempotency',
    name: 'a client that leaves after its body was read, before its key is claimed (a slow scope or store): the run is recorded and replayed to the retry, never a second run',
    async run(t) {
      const runs = counter();
      const entered = deferred();
      const release = deferred();
      let scoped = 0;
      const app = await t.serve([
        t.m.idempotency({
          logger: t.logger(),
          async scope() {
            if (scoped++ === 0) {
              entered.resolve();
              await release.promise;
            }
            return 'user-1';
          },
        }),
        t.m.route('POST', '/orders', () =>
          runs.add({ status: 201, headers: { location: '/orders/1' }, json: { charged: runs.runs + 1 } }),
        ),
      ]);
      const left = deferred();
      app.server.once('connection', (socket) => socket.once('close', () => left.resolve()));
      const headers = { 'content-type': 'application/json', 'content-length': '2', 'idempotency-key': KEY };
      await abandonedRequest(app.port, { method: 'POST', path: '/orders', headers, body: '{}' }, entered.promise);
      await left.promise; // the response has closed before the key is claimed and the handler runs
      release.resolve();
      const retried = await retryPast409(app, '/orders', post({}));
      expect([retried.status, retried.headers.get('idempotent-replayed'), retried.headers.get('location')]).toEqual([
        201,
        'true',
        '/orders/1',
      ]);
      expect(await retried.json()).toEqual({ charged: 1 });
      expect(runs.runs).toBe(1);
    },
  },
  {
    area: 'idempotency',
    name: 'a client that leaves and whose handler then fails: the failure frees the key at once (a retry runs), nothing else is replayed',
    async run(t) {
      const runs = counter();
      const entered = deferred();
      const left = deferred();
      const fail = deferred();
      const app = await ordersBehindErrorHandler(t, async (r) => {
        if (runs.runs === 0) {
          runs.add();
          r.signal().addEventListener('abort', () => left.resolve());
          entered.resolve();
          await fail.promise;
          throw new Error('payment provider down');
        }
        return runs.add({ status: 201, json: { charged: 1 } });
      });
      const headers = { 'content-type': 'application/json', 'content-length': '2', 'idempotency-key': KEY };
      await abandonedRequest(app.port, { method: 'POST', path: '/orders', headers, body: '{}' }, entered.promise);
      await left.promise;
      fail.resolve();
      const retried = await retryPast409(app, '/orders', post({}));
      expect([retried.status, retried.headers.get('idempotent-replayed')]).toEqual([201, null]);
      expect(runs.runs).toBe(2);
    },
  },
  {
    area: 'idempotency',
    name: 'a handler that fails after its response began (its head and part of its body sent): the key is freed at once, a retry runs, nothing partial is replayed',
    async run(t) {
      const runs = counter();
      const app = await ordersBehindErrorHandler(t, () =>
        runs.runs === 0
          ? runs.add({
              status: 200,
              headers: { 'content-type': 'text/plain' },
              sent: 'half',
              fail: new Error('disk'),
            })
          : runs.add({ status: 201, json: { charged: 1 } }),
      );
      // The connection is cut: the client never gets a whole response.
      await expect(app.fetch('/orders', post({})).then((r) => r.text())).rejects.toThrow();
      const retried = await retryPast409(app, '/orders', post({}));
      expect([retried.status, retried.headers.get('idempotent-replayed')]).toEqual([201, null]);
      expect(await retried.json()).toEqual({ charged: 1 });
      expect(runs.runs).toBe(2);
    },
  },
  {
    area: 'idempotency',
    name: 'a handler that fails after it has ended its response (next(err) after res.json): the answer the client got is recorded and replayed, the handler never runs twice',
    async run(t) {
      const runs = counter();
      const app = await ordersBehindErrorHandler(t, () =>
        runs.add({
          status: 201,
          headers: { 'content-type': 'application/json' },
          sent: '{"id":1}',
          ended: true,
          fail: new Error('audit log down'),
        }),
      );
      const first = await app.fetch('/orders', post({}));
      expect([first.status, await first.text()]).toEqual([201, '{"id":1}']);
      const retried = await retryPast409(app, '/orders', post({}));
      expect([retried.status, retried.headers.get('idempotent-replayed'), await retried.text()]).toEqual([
        201,
        'true',
        '{"id":1}',
      ]);
      expect(runs.runs).toBe(1);
    },
  },
  {
    area: 'idempotency',
    name: 'a streamed response whose source fails mid-body (the response destroyed with its error): the key is freed at once, a retry runs',
    async run(t) {
      const runs = counter();
      async function* failing() {
        yield 'part,';
        throw new Error('disk');
      }
      const app = await ordersBehindErrorHandler(t, () =>
        runs.runs === 0
          ? runs.add({ status: 200, headers: { 'content-type': 'text/plain' }, chunks: failing() })
          : runs.add({ status: 201, json: { charged: 1 } }),
      );
      await expect(app.fetch('/orders', post({})).then((r) => r.text())).rejects.toThrow();
      const retried = await retryPast409(app, '/orders', post({}));
      expect([retried.status, retried.headers.get('idempotent-replayed')]).toEqual([201, null]);
      expect(runs.runs).toBe(2);
    },
  },
  {
    area: 'idempotency',
    name: 'a client that leaves and whose handler stops on the abort: its 499 is not replayed, the retry runs',
    async run(t) {
      const runs = counter();
      const entered = deferred();
      const app = await ordersBehindErrorHandler(t, async (r) => {
        if (runs.runs === 0) {
          runs.add();
          const signal = r.signal();
          const stopped = new Promise((_, reject) => {
            signal.addEventListener('abort', () => reject(new DOMException('The client left', 'AbortError')));
          });
          entered.resolve();
          await stopped;
        }
        return runs.add({ status: 201, json: { charged: 1 } });
      });
      const headers = { 'content-type': 'application/json', 'content-length': '2', 'idempotency-key': KEY };
      await abandonedRequest(app.port, { method: 'POST', path: '/orders', headers, body: '{}' }, entered.promise);
      const retried = await retryPast409(app, '/orders', post({}));
      expect([retried.status, retried.headers.get('idempotent-replayed')]).toEqual([201, null]);
      expect(runs.runs).toBe(2);
    },
  },
  {
    area: 'idempotency',
    name: 'frees the key of a crashed request after lockTimeoutMs, not after the ttl: another instance then runs it',
    async run(t) {
      const clock = new FakeClock(0);
      const store = memoryStore();
      const hung = deferred();
      const entered = deferred();
      const options = { store, lockTimeoutMs: 5_000, clock, logger: t.logger() };
      const crashed = await t.serve([
        t.m.idempotency(options),
        t.m.route('POST', '/orders', async () => {
          entered.resolve();
          await hung.promise;
          return { status: 201, json: { from: 'crashed' } };
        }),
      ]);
      const other = await t.serve([
        t.m.idempotency(options),
        t.m.route('POST', '/orders', () => ({ status: 201, json: { from: 'other' } })),
      ]);
      const lost = crashed.fetch('/orders', post({})).catch(() => undefined);
      await entered.promise;
      expect((await other.fetch('/orders', post({}))).status).toBe(409);
      await clock.advance(5_000);
      const retried = await other.fetch('/orders', post({}));
      expect(await retried.json()).toEqual({ from: 'other' });
      hung.resolve();
      await lost;
    },
  },
  {
    area: 'idempotency',
    name: 'fails closed when its store fails: 503 problem+json (store_unavailable), the handler does not run, never a 500',
    async run(t) {
      const { app, runs } = await ordersApp(t, { status: 201, json: {} }, { store: downStore() });
      const res = await app.fetch('/orders', post({ item: 'book' }));
      expect(res.status).toBe(503);
      expect(await problemOf(res)).toMatchObject({ status: 503, code: 'store_unavailable' });
      expect(runs.runs).toBe(0);
      expect((await app.fetch('/orders', post({ item: 'book' }, null))).status).toBe(201);
    },
  },
  {
    area: 'idempotency',
    name: "with recordServerErrors, a refusal of the toolkit's after it (a shed, a rate limit's store down, an open breaker) is not recorded: the retry runs the handler",
    async run(t) {
      const clock = new FakeClock(0);
      const release = deferred();
      const entered = deferred();
      let storeDown = true;
      const inner = memoryStore();
      const flaky = downStore();
      const store: Store = { ...flaky, apply: (...a) => (storeDown ? flaky.apply(...a) : inner.apply(...a)) };
      let breakerOpen = true;
      const runs = counter();
      const app = await t.serve([
        t.m.errorHandler({ logger: t.logger() }),
        t.m.idempotency({ recordServerErrors: true, clock, logger: t.logger() }),
        t.m.route('POST', '/breaker', () => {
          if (breakerOpen) throw new BrokenCircuitError(undefined, 1_000);
          return runs.add({ status: 201, json: { ok: true } });
        }),
        t.m.rateLimit({
          algorithm: fixedWindow({ limit: 100, windowMs: 60_000 }),
          store,
          onStoreError: 'closed',
          clock,
          logger: t.logger(),
        }),
        t.m.loadShedding({ maxConcurrent: 1, clock }),
        t.m.route('GET', '/hold', async () => {
          entered.resolve();
          await release.promise;
          return { text: 'held' };
        }),
        t.m.route('POST', '/orders', () => runs.add({ status: 201, json: { ok: true } })),
      ]);
      // The rate limit's store is down: 503 store_unavailable, the handler never runs.
      expect((await app.fetch('/orders', post({}, '"down"'))).status).toBe(503);
      storeDown = false;
      // The one slot is held: the keyed request is shed, 503 bulkhead_full.
      const hold = app.fetch('/hold');
      await entered.promise;
      expect((await app.fetch('/orders', post({}, '"shed"'))).status).toBe(503);
      release.resolve();
      await hold;
      // The handler's dependency is refused by its breaker: 503 circuit_open.
      expect((await app.fetch('/breaker', post({}, '"open"'))).status).toBe(503);
      breakerOpen = false;
      // Capacity, the store and the dependency are back: each retry runs its handler.
      for (const [path, key] of [
        ['/orders', '"down"'],
        ['/orders', '"shed"'],
        ['/breaker', '"open"'],
      ] as const) {
        const retry = await app.fetch(path, post({}, key));
        expect([key, retry.status, retry.headers.get('idempotent-replayed')]).toEqual([key, 201, null]);
      }
      expect(runs.runs).toBe(3);
    },
  },
];
