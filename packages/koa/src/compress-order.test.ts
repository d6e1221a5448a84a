// What docs/koa.md says of compression: `idempotency` records the bytes as they go out, so a
// compressing middleware (koa-compress) replaces `ctx.body` by its gzip stream before anything is
// written, wherever it is mounted: the record holds the gzip bytes with their `Content-Encoding`,
// and every replay sends both (never the bytes without the header), to a retry that asks for
// `identity` too. `compressLike` does what koa-compress does (it is not a dependency here):
// after `next()`, for a client that accepts gzip, it sets `Content-Encoding: gzip`, drops the
// length and makes `ctx.body` a gzip stream, unless `ctx.compress === false`.
import { createGzip, gunzipSync, gzipSync } from 'node:zlib';
import type { Context, Next } from 'koa';
import Koa from 'koa';
import { afterEach, expect, it } from 'vitest';
import { type Served, send, serve } from '../../node-server/src/testing/http.js';
import { idempotency } from './index.js';

let served: Served | undefined;
afterEach(() => served?.close());

const answer = JSON.stringify({ items: Array.from({ length: 100 }, (_, i) => ({ i })) });

async function compressLike(ctx: Context, next: Next) {
  ctx.vary('Accept-Encoding');
  await next();
  if ((ctx as Context & { compress?: boolean }).compress === false || ctx.body == null) return;
  if (ctx.response.get('Content-Encoding') || ctx.request.acceptsEncodings('gzip', 'identity') !== 'gzip') return;
  const body = typeof ctx.body === 'string' || Buffer.isBuffer(ctx.body) ? ctx.body : JSON.stringify(ctx.body);
  ctx.set('Content-Encoding', 'gzip');
  ctx.remove('Content-Length');
  const stream = createGzip();
  stream.end(body);
  ctx.body = stream;
}

const post = (key: string, encoding: string) => ({
  method: 'POST',
  path: '/orders',
  headers: { 'idempotency-key': `"${key}"`, 'content-type': 'application/json', 'accept-encoding': encoding },
  body: '{}',
});

it.each(['before', 'after'])(
  'compression mounted %s idempotency: a replay is the first answer, its Content-Encoding with it',
  async (order) => {
    const app = new Koa();
    if (order === 'before') app.use(compressLike);
    app.use(idempotency({ logger: { info() {}, warn() {}, error() {} } }));
    if (order === 'after') app.use(compressLike);
    let runs = 0;
    app.use((ctx) => {
      runs++;
      ctx.status = 201;
      ctx.type = 'json';
      ctx.body = answer;
    });
    served = await serve(app.callback());
    const first = await send(served.port, post('a', 'gzip'));
    expect(first.headers['content-encoding']).toBe('gzip');
    for (const encoding of ['gzip', 'identity']) {
      const replay = await send(served.port, post('a', encoding));
      expect(replay.headers).toMatchObject({ 'idempotent-replayed': 'true', 'content-encoding': 'gzip' });
      expect(replay.body).toEqual(first.body);
      expect(gunzipSync(replay.body).toString()).toBe(answer);
    }
    const plain = await send(served.port, post('b', 'identity'));
    expect(plain.headers['content-encoding']).toBeUndefined();
    // A first answer that went out plain replays plain, compressed again for a retry that
    // accepts gzip when the compression runs around the replay (mounted before).
    const plainReplay = await send(served.port, post('b', 'gzip'));
    expect(plainReplay.headers['content-encoding']).toBe(order === 'before' ? 'gzip' : undefined);
    const bytes = order === 'before' ? gunzipSync(plainReplay.body) : plainReplay.body;
    expect(bytes.toString()).toBe(answer);
    expect(runs).toBe(2);
    expect(gzipSync(answer).length).toBeLessThan(answer.length); // the test compares real gzip bytes
  },
);
