// The tRPC API's failures reach what operators read, as the Express and Koa APIs' do: the
// recent errors of its admin route (and so the dashboard) and its metrics collector.
import { FakeClock } from '@resilience/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { type ApiKit, apiKit } from './api-kit.js';
import { close, listen } from './listen.js';
import { demoSettings } from './settings.js';
import { trpcSender } from './targets.js';
import { trpcServer } from './trpc-api.js';
import { UpstreamError } from './upstream.js';

let kit: ApiKit | undefined;
let server: ReturnType<typeof trpcServer> | undefined;
afterEach(async () => {
  if (server) await close(server);
  kit?.stop();
  server = undefined;
  kit = undefined;
});

describe('the tRPC API', () => {
  it("records a procedure's server error in its recent errors and its collector", async () => {
    const settings = demoSettings({ durationMs: 60_000, seed: 1 });
    kit = apiKit({ api: 'trpc', client: 'fetch', providerUrl: 'http://127.0.0.1:9', settings, clock: new FakeClock() });
    // The provider failed the quote after the client's retries: the API answers 502.
    kit.upstream = { ...kit.upstream, quote: () => Promise.reject(new UpstreamError(500)) };
    server = trpcServer(kit);
    const url = await listen(server);
    const answer = await trpcSender(url)(
      { kind: 'quote', id: 'req-7', apiKey: 'client-a' },
      AbortSignal.timeout(10_000),
    );
    expect(answer.status).toBe(502);

    const response = await fetch(`${url}/api/resilience/errors/recent`, {
      headers: { authorization: `Bearer ${settings.adminToken}` },
    });
    const { errors } = (await response.json()) as { errors: Record<string, unknown>[] };
    expect(errors).toEqual([
      expect.objectContaining({ name: 'UpstreamError', status: 502, correlationId: 'req-7', route: 'quote' }),
    ]);
    expect(kit.stats.snapshot().lifetime.errors).toBe(1);
  });

  it('leaves out what is no server error: a client over its rate limit', async () => {
    const settings = demoSettings({ durationMs: 60_000, seed: 1 });
    kit = apiKit({ api: 'trpc', client: 'fetch', providerUrl: 'http://127.0.0.1:9', settings, clock: new FakeClock() });
    kit.upstream = { ...kit.upstream, quote: () => Promise.resolve({ price: 1 }) };
    server = trpcServer(kit);
    const send = trpcSender(await listen(server));
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) {
      statuses.push(
        (await send({ kind: 'quote', id: `req-${i}`, apiKey: 'noisy' }, AbortSignal.timeout(10_000))).status,
      );
    }
    expect(statuses).toContain(429);
    expect(kit.errors.list()).toEqual([]);
    expect(kit.stats.snapshot().lifetime.errors).toBe(0);
  });
});
