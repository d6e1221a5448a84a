import {
  alerting,
  breakerRegistry,
  type Clock,
  defaultRules,
  type EventLogger,
  health,
  metrics,
  observe,
  rateLimiter,
  recentErrors,
  type Store,
  tokenBucket,
} from '@resilience/core';
import { registerResilienceMetrics } from '@resilience/prometheus';
import { Registry } from 'prom-client';
import { axiosUpstream } from './axios-upstream.js';
import { checkout } from './checkout.js';
import { clientPolicies } from './client-policies.js';
import { fetchUpstream } from './fetch-upstream.js';
import { WARM_UP_KEYS } from './load.js';
import { type DemoSettings, PER_CLIENT } from './settings.js';
import type { ApiName } from './targets.js';

/** The terminal shows the live figures; errors go to the recent-errors buffer the dashboard reads. */
export const quietLogger: EventLogger = { info: () => {}, warn: () => {}, error: () => {} };

/** The API keys the load generator sends: three well-behaved clients and a noisy one. */
export const CLIENT_KEYS = ['client-a', 'client-b', 'client-c', 'noisy'] as const;

/** Every key the demo's APIs accept: its clients' and the warm-up's. */
const KNOWN_KEYS: ReadonlySet<string> = new Set([...CLIENT_KEYS, ...WARM_UP_KEYS]);

/**
 * Whose quota and idempotency records a request uses, as the docs advise: a key checked
 * against the demo's clients (prefixed, never mistaken for an address), else `''`, which the
 * rate limits count under the client address (`clientIpKey`: IPv6 by /56). An unchecked
 * header would let a client escape its limit with a new key per request.
 */
export const clientKey = (apiKey: string | undefined): string =>
  apiKey !== undefined && KNOWN_KEYS.has(apiKey) ? `client:${apiKey}` : '';

export interface KitOptions {
  /** Which API it serves: names its provider client (`<api>-provider`) and its limiter (`<api>-clients`). */
  api: ApiName;
  client: 'axios' | 'fetch';
  providerUrl: string;
  settings: DemoSettings;
  clock: Clock;
  /** Shared limits, breakers and idempotency records (`--redis`); memory otherwise. */
  store?: Store;
}

/**
 * What each API is built from, as a user would wire it: the provider behind a client
 * adapter, the checkout saga, a per-client rate limiter, metrics of the API and of its
 * upstream calls, alert rules over the upstream, recent errors, health checks and a
 * Prometheus registry.
 */
export function apiKit(options: KitOptions) {
  const { api, settings, clock, store } = options;
  const name = `${api}-provider`;
  const upstreamStats = metrics({ windowMs: settings.windowMs, clock });
  const make = options.client === 'axios' ? axiosUpstream : fetchUpstream;
  const upstream = make(options.providerUrl, clientPolicies(name, settings, store), upstreamStats, clock);
  const stopObserving = observe(upstream.client, upstreamStats); // retries, timeouts, breaker opens
  const alerts = alerting({ rules: defaultRules(), clock, handlers: [] });
  alerts.start(upstreamStats, { intervalMs: settings.alertIntervalMs });

  // On the kit's clock, as everything else here: a test's FakeClock holds its quotas still.
  const limiter = rateLimiter({
    name: `${api}-clients`,
    algorithm: tokenBucket(PER_CLIENT),
    clock,
    ...(store && { store }),
  });
  const providerHost = new URL(options.providerUrl).host;
  const probes = health({ cacheMs: 250, clock }).register(
    'provider',
    () => upstream.client.host(providerHost)?.breaker?.state !== 'open',
    { critical: false },
  );
  const stats = metrics({ windowMs: settings.windowMs, clock });
  const registry = new Registry();
  registerResilienceMetrics(registry, {
    collectors: { api: stats, upstream: upstreamStats },
    breakers: breakerRegistry,
    rateLimits: CLIENT_KEYS.map((key) => ({
      name: key,
      usage: async () => {
        const d = await limiter.peek(clientKey(key));
        return { used: d.limit - d.remaining, limit: d.limit };
      },
    })),
  });

  return {
    name,
    store,
    upstream,
    upstreamStats,
    stats,
    errors: recentErrors({ max: 50 }),
    alerts,
    limiter,
    probes,
    registry,
    orders: checkout(upstream, {
      releaseForMs: settings.releaseForMs,
      releaseBackoffMs: settings.releaseBackoffMs,
      clock,
    }),
    /** The admin routes' check: the demo's bearer token. */
    authorized: (header: string | undefined) => header === `Bearer ${settings.adminToken}`,
    collectors: { api: stats, upstream: upstreamStats },
    stop() {
      alerts.stop();
      stopObserving();
    },
  };
}

export type ApiKit = ReturnType<typeof apiKit>;

/** A checkout request's body, as the load generator sends it. */
export interface OrderBody {
  orderId: string;
  amount: number;
  card: string;
}
