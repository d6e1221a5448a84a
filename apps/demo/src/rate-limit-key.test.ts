// Whose quota a request takes from, in each API, as the docs tell users to key it: a checked
// API key, else the client address through `clientIpKey` (IPv6 grouped by /56). The servers
// listen on 127.0.0.1; each connection is given the address the test says it comes from.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { FakeClock } from '@resilience/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { type ApiKit, apiKit } from './api-kit.js';
import { expressApp } from './express-api.js';
import { koaApp } from './koa-api.js';
import { close, listen } from './listen.js';
import { demoSettings, PER_CLIENT } from './settings.js';
import { type ApiName, trpcSender } from './targets.js';
import { trpcServer } from './trpc-api.js';

let kit: ApiKit | undefined;
let server: Server | undefined;
afterEach(async () => {
  if (server) await close(server);
  kit?.stop();
  server = undefined;
  kit = undefined;
});

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
const HANDLERS: Record<ApiName, (kit: ApiKit) => Handler> = {
  express: (kit) => expressApp(kit) as unknown as Handler,
  koa: (kit) => koaApp(kit).callback(),
  trpc: (kit) => {
    const inner = trpcServer(kit);
    const [listener] = inner.listeners('request') as Handler[];
    return listener!;
  },
};

/** One API whose every request comes from `from.address`; resolves with a send of a quote from it. */
async function api(name: ApiName, from: { address: string }, clock = new FakeClock()) {
  const settings = demoSettings({ durationMs: 60_000, seed: 1 });
  const client = name === 'express' ? 'axios' : 'fetch';
  kit = apiKit({ api: name, client, providerUrl: 'http://127.0.0.1:9', settings, clock });
  kit.upstream = { ...kit.upstream, quote: () => Promise.resolve({ price: 1 }) };
  const handler = HANDLERS[name](kit);
  server = createServer((req, res) => {
    Object.defineProperty(req.socket, 'remoteAddress', { value: from.address, configurable: true });
    handler(req, res);
  });
  const url = await listen(server);
  const trpc = trpcSender(url);
  let next = 0;
  return async (address: string, apiKey?: string) => {
    from.address = address;
    if (name !== 'trpc') {
      // Without the field at all, as a client that has no key sends it.
      const headers: Record<string, string> = apiKey === undefined ? {} : { 'x-api-key': apiKey };
      return (await fetch(`${url}/quote`, { headers })).status;
    }
    const request = { kind: 'quote' as const, id: `req-${++next}`, apiKey: apiKey ?? '' };
    return (await trpc(request, AbortSignal.timeout(10_000))).status;
  };
}

/** A fresh bucket admits 5 at once (`PER_CLIENT`); the clock stands still, so none refills. */
const BURST = 5;

describe.each(['express', 'koa', 'trpc'] as const)('the %s API’s rate-limit key', (name) => {
  it('counts clients without an API key by address, IPv6 by /56 (clientIpKey)', async () => {
    const send = await api(name, { address: '' });
    for (let i = 0; i < BURST; i++) expect(await send(`2001:db8:abcd:1201::${i + 1}`)).toBe(200);
    // The same /56: one subscriber's network, one quota.
    expect(await send('2001:db8:abcd:12ff::9')).toBe(429);
    // Another network, another quota.
    expect(await send('2001:db8:abcd:1300::1')).toBe(200);
  });

  it('counts an API key it does not know under the address, so a new key per request escapes nothing', async () => {
    const send = await api(name, { address: '' });
    for (let i = 0; i < BURST; i++) expect(await send('203.0.113.7', `made-up-${i}`)).toBe(200);
    expect(await send('203.0.113.7', 'made-up-again')).toBe(429);
    // A client the demo knows has its own quota, wherever it calls from.
    expect(await send('203.0.113.7', 'client-a')).toBe(200);
  });

  it("refills a client's quota on the kit's clock, not the system's: the test's requests may take seconds", async () => {
    const clock = new FakeClock();
    const send = await api(name, { address: '' }, clock);
    const statuses = async () => {
      const seen: number[] = [];
      for (let i = 0; i <= BURST; i++) seen.push(await send('198.51.100.7'));
      return seen;
    };
    const burst = [...Array<number>(BURST).fill(200), 429];
    expect(await statuses()).toEqual(burst);
    // A full bucket again on the kit's clock (the system's would take 2.5 s), and no more.
    await clock.advance((BURST / PER_CLIENT.refillPerSecond) * 1_000);
    expect(await statuses()).toEqual(burst);
  });
});
