import { backoff, type ClientOptions, countWindow, type Store, statusOf } from '@resilience/core';
import type { DemoSettings } from './settings.js';

/** The options both client adapters (axios and fetch) take, without the request-typed ones. */
export type ClientPolicies = Omit<ClientOptions, 'idempotent' | 'key'>;

const OVERLOADED = new Set([429]);

/** The seeds' provider quota, 60 requests a minute, scaled up so the demo's load fits in it. */
export const QUOTA_SCALE = 60;

/**
 * The client policies every API puts between itself and the provider, as docs/client.md
 * describes them:
 *
 * - retry: 10 attempts with full-jitter backoff, honouring `Retry-After` up to 5 s. The
 *   recovery target is judged on the requests that met a fault, and a run of fewer than 100
 *   of them misses 99 % with a single failure: at 30 % of attempts failing, a request that met
 *   one fails with 0.3^(attempts − 1): 0.24 % with 6 attempts, so about one default run in
 *   6 (~80 such requests) missed the target by chance; 0.002 % with 10, one in 600. The retry
 *   budget is raised from 10 % to 60 % of requests: at 30 % of attempts failing, a request
 *   needs 0.3 + 0.09 + 0.027 + … ≈ 0.43 retries on average, so the default budget would
 *   refuse most of them. The budget still stops a retry storm against a provider that is down.
 * - breaker per host: opens when 80 % of the last 20 attempts failed (at least 10), so the
 *   transient phase's 30 % never trips it and an outage does within a second or two.
 * - a client-side token bucket of `60 × QUOTA_SCALE` requests a minute per host.
 * - adaptive throttling (k = 2) counting only the provider's "overloaded" answer, 429, as a
 *   refusal: by default every transient failure counts, and in the transient phase the
 *   timeouts and dropped connections made it shed requests the retries would have saved. The
 *   outage's 503s are the breaker's: counted here too, a long run's outage filled the
 *   throttle's 2-minute window with refusals and it shed the breaker's half-open probes, so
 *   calls went through again only some time after the provider was back.
 * - 4 s per attempt (a `slow` answer takes 6 s), 20 s for the whole request: generous, because
 *   on a busy machine the event loop can stall for seconds and every attempt then times out at once.
 * - a generated `Idempotency-Key` on POSTs, so reservations and charges are retried too.
 */
export function clientPolicies(name: string, settings: DemoSettings, store?: Store): ClientPolicies {
  return {
    name,
    retry: {
      maxAttempts: 10,
      backoff: backoff.exponential({ initialMs: 50, maxMs: 1_000, jitter: 'full' }),
      retryAfter: { maxMs: 5_000 },
      budget: { ratio: 0.6 },
    },
    breaker: {
      strategy: countWindow({ size: 20, failureRate: 0.8, minimumCalls: 10 }),
      halfOpenAfter: settings.halfOpenAfterMs,
      ...(store && { store }),
    },
    rateLimit: { requestsPerMinute: 60 * QUOTA_SCALE, maxWaitMs: 1_000, ...(store && { store }) },
    throttle: { k: 2, overloaded: (error) => OVERLOADED.has(statusOf(error) ?? 0) },
    timeout: 4_000,
    deadlineMs: 20_000,
    idempotencyKey: true,
  };
}
