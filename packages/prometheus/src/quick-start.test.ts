import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  backoff,
  circuitBreaker,
  consecutive,
  metrics,
  observe,
  pipeline,
  rateLimiter,
  retry,
  timeout,
  tokenBucket,
} from '@resilience/core';
import { FakeClock } from '@resilience/core/testing';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { registerResilienceMetrics } from './index.js';

/** Most requests the flaky server answers; past it every request fails, so a runaway loop shows. */
const MAX_REQUESTS = 40;
/** How long the server takes to answer, on the fake clock. */
const SERVICE_MS = 25;

/**
 * A provider on 127.0.0.1 that answers every third request (the 2nd, 5th, 8th ...) with a
 * 503. Each answer takes SERVICE_MS on the fake clock: the handler moves it on, so
 * durations are exact while the real I/O is simply awaited.
 */
async function flakyProvider(clock: FakeClock): Promise<{ url: string; server: Server; requests: () => number }> {
  let requests = 0;
  const server = createServer(async (_req, res) => {
    const n = ++requests;
    await clock.advance(SERVICE_MS);
    if (n > MAX_REQUESTS || n % 3 === 2) {
      res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":"overloaded"}');
    } else {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ completion: `answer ${n}` }));
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/v1/complete`, server, requests: () => requests };
}

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  server?.close();
  if (server) await once(server, 'close');
  server = undefined;
});

describe("the README's quick start", () => {
  it('records calls, latency and retries of the observed pipeline, and a Prometheus scrape shows them', async () => {
    const clock = new FakeClock();
    const provider$ = await flakyProvider(clock);
    server = provider$.server;

    // The README's pipeline, with the clock (and the jitter's random source) injected.
    const quota = rateLimiter({ algorithm: tokenBucket({ capacity: 60, refillPerSecond: 1 }), clock });
    const provider = pipeline(
      quota.policy({ key: 'llm-provider' }),
      timeout(30_000, { name: 'total', clock }),
      retry({
        maxAttempts: 4,
        backoff: backoff.exponential({ initialMs: 200, jitter: 'full' }),
        clock,
        random: () => 0.5,
      }),
      circuitBreaker({
        name: 'llm-provider',
        strategy: consecutive(3),
        halfOpenAfter: 60_000,
        clock,
        registry: false,
      }),
      timeout(10_000, { name: 'attempt', clock }),
    );
    const collector = metrics({ clock });
    observe(provider, collector);
    const registry = new Registry();
    registerResilienceMetrics(registry, { collectors: collector });

    // Time passes exactly as the pipeline waits: each announced backoff moves the fake clock.
    provider.onEvent((event) => {
      if (event.type === 'retry') void clock.advance(event.delayMs);
    });

    const completions: unknown[] = [];
    for (let i = 0; i < 10; i++) {
      const completion = await provider.execute(async ({ signal }) => {
        const response = await fetch(provider$.url, { method: 'POST', signal });
        if (!response.ok) {
          throw Object.assign(new Error(`HTTP ${response.status}`), {
            status: response.status,
            headers: response.headers,
          });
        }
        return response.json();
      });
      completions.push(completion);
    }

    // Every other call met a 503 once and was retried after 0.5 × 200 ms of full jitter.
    expect(provider$.requests()).toBe(15);
    expect(completions).toHaveLength(10);
    const s = collector.snapshot();
    expect([s.calls, s.ok, s.failed, s.retries, s.attempts]).toEqual([10, 10, 0, 5, 15]);
    expect(s.latency.p50).toBeCloseTo(SERVICE_MS, 6);
    expect(s.latency.max).toBe(SERVICE_MS + 100 + SERVICE_MS);
    expect(s.latency.avg).toBe((5 * 25 + 5 * 150) / 10);

    const text = await registry.metrics();
    expect(text).toContain('resilience_calls_total{outcome="ok"} 10');
    expect(text).toContain('resilience_retries_total 5');
    expect(text).toContain('resilience_call_duration_seconds_bucket{le="0.025"} 5');
    expect(text).toContain('resilience_call_duration_seconds_bucket{le="0.25"} 10');
    expect(text).toContain('resilience_call_duration_seconds_count 10');
    expect(text).toContain('resilience_call_duration_seconds_sum 0.875');
  });
});
