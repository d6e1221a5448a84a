// The README's "Quick start: an Express API calling a flaky provider", run as a newcomer who
// copies it would run it: the exact block, written to a module beside this package (so its
// imports resolve as they would in an app: @resilience/express and @resilience/axios as
// built), started against a real provider on 127.0.0.1 that fails the first call.
// The provider's failure is retried after the README's own backoff on the system clock (the
// code a newcomer copies injects no clock): one wait of at most 100 ms.
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Served, send, serve } from '../../node-server/src/testing/http.js';

const HEADING = '## Quick start: an Express API calling a flaky provider';
const packageDir = fileURLToPath(new URL('..', import.meta.url));

/** The first ```ts block under HEADING in the root README. */
function quickStart(): string {
  const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
  const section = readme.split(/^## /m).find((s) => `## ${s}`.startsWith(`${HEADING}\n`));
  if (section === undefined) throw new Error(`README.md has no section "${HEADING}"`);
  const code = /^```ts\n([\s\S]*?)^```/m.exec(section)?.[1];
  if (code === undefined) throw new Error(`"${HEADING}" has no ts block`);
  return code;
}

interface ProviderRequest {
  readonly method: string | undefined;
  readonly url: string | undefined;
  readonly idempotencyKey: string | undefined;
  readonly body: string;
}

const seen: ProviderRequest[] = [];
let provider: Served;
let dir = '';
let app: Server;
const env = { PROVIDER_URL: process.env.PROVIDER_URL, PORT: process.env.PORT };

beforeAll(async () => {
  // Fails the first call with a 503, then summarises; a body without text is a 400.
  provider = await serve((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => {
      body += chunk;
    });
    req.on('end', () => {
      const key = req.headers['idempotency-key'];
      seen.push({ method: req.method, url: req.url, idempotencyKey: typeof key === 'string' ? key : undefined, body });
      if (seen.length === 1) {
        res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":"overloaded"}');
        return;
      }
      const { text } = JSON.parse(body) as { text?: unknown };
      if (typeof text !== 'string') {
        res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"text: expected a string"}');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ summary: text.slice(0, 5) }));
    });
  });
  process.env.PROVIDER_URL = provider.url;
  process.env.PORT = '0';

  const code = quickStart();
  expect(code, 'the quick start names its server `server`, which the test closes').toMatch(/^const server = /m);
  dir = mkdtempSync(join(packageDir, '.readme-quickstart-'));
  const file = join(dir, 'server.ts');
  writeFileSync(file, `${code}\nexport { server };\n`);
  ({ server: app } = (await import(pathToFileURL(file).href)) as { server: Server });
  if (!app.listening) await once(app, 'listening');
}, 60_000);

afterAll(async () => {
  if (app?.listening) {
    app.closeAllConnections();
    await new Promise((resolve) => app.close(resolve));
  }
  await provider?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
});

const port = () => (app.address() as AddressInfo).port;
// An Idempotency-Key is a structured-field string: quoted.
const summarise = (key: string) =>
  send(port(), {
    method: 'POST',
    path: '/summaries',
    headers: { 'content-type': 'application/json', 'idempotency-key': key },
    body: JSON.stringify({ text: 'a long article' }),
  });

describe("the README's Express + axios quick start, copied as is", () => {
  it('answers through the provider after the provider fails once: one retry, the same Idempotency-Key', async () => {
    const reply = await summarise('"order-1"');

    expect(reply.status, reply.text).toBe(201);
    expect(JSON.parse(reply.text)).toEqual({ summary: 'a lon' });
    expect(reply.headers.ratelimit).toMatch(/;r=\d+;t=\d+/);
    expect(seen).toHaveLength(2);
    expect(seen.map((r) => [r.method, r.url, r.body])).toEqual([
      ['POST', '/v1/summarize', '{"text":"a long article"}'],
      ['POST', '/v1/summarize', '{"text":"a long article"}'],
    ]);
    // A generated key, the same on the retry: a provider that honours it does the work once.
    expect(seen[0]!.idempotencyKey).toMatch(/\S{8,}/);
    expect(seen[1]!.idempotencyKey).toBe(seen[0]!.idempotencyKey);
  });

  it('replays a repeated Idempotency-Key without calling the provider again', async () => {
    const reply = await summarise('"order-1"');

    expect(reply.status).toBe(201);
    expect(JSON.parse(reply.text)).toEqual({ summary: 'a lon' });
    expect(seen).toHaveLength(2);
  });

  it('serves its health routes as application/health+json', async () => {
    const reply = await send(port(), { path: '/health/ready' });

    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toMatch(/^application\/health\+json/);
    expect(JSON.parse(reply.text)).toMatchObject({ status: 'pass' });
  });

  it("turns the provider's refusal into problem+json, without retrying it", async () => {
    const reply = await send(port(), {
      method: 'POST',
      path: '/summaries',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });

    expect(reply.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(JSON.parse(reply.text)).toMatchObject({ status: reply.status });
    expect(seen).toHaveLength(3);
  });
});
