import type { RunningDemo } from '../run.js';
import { API_NAMES, type ApiName } from '../targets.js';

/** One frame of the dashboard, read as an operator's tools would: admin routes and /metrics (of the first instance; with --redis the breakers are shared). */
export interface DashboardState {
  elapsedMs: number;
  durationMs: number;
  /** The span the upstream figures cover, in seconds (the metrics window). */
  windowS: number;
  phase: string;
  breakers: { name: string; state: string; retryAfterMs: number | null }[];
  apis: Record<ApiName, ApiFrame>;
  rateLimits: { api: ApiName; key: string; usage: number }[];
  /** `at`: milliseconds since the run started, as the terminal counts (not the time of day). */
  errors: { api: ApiName; at: number; status: number; name: string; message: string }[];
  alerts: { api: ApiName; name: string; severity: string; status: string; at: number }[];
}

interface ApiFrame {
  /** The API's calls to the provider in the window, each counted once whatever its retries. */
  upstream: UpstreamFrame;
}

/**
 * The calls an API made to the provider in the window, and how those that did not succeed
 * ended: `failedRate`, the share that met the provider's faults and still failed after their
 * retries; `refusedRate`, the share the client's own policies failed at once without calling
 * the provider: an open (or isolated) breaker, the adaptive throttle or the client-side quota.
 * Both failed the API's caller; an SRE reads the first as the provider hurting users, the
 * second as the client shielding it (a breaker still refuses for a moment in the recovery,
 * until its probe finds the provider back).
 */
export interface UpstreamFrame {
  calls: number;
  retries: number;
  failedRate: number;
  refusedRate: number;
  p50: number;
  p95: number;
  p99: number;
}

/** What the admin metrics route gives of a collector, as far as the page reads it. */
export interface Snapshot {
  calls: number;
  failed: number;
  retries: number;
  errorsByType: Record<string, number>;
  latency: { p50: number; p95: number; p99: number };
}

/** The names of the client policies' own refusals, as the collector counts failed calls by error name. */
const REFUSALS = ['BrokenCircuitError', 'IsolatedCircuitError', 'ThrottledError', 'RateLimitExceededError'];

/** One collector's window as the page's row: its failed calls split into faults and refusals. */
export function upstreamFrame(snapshot: Snapshot): UpstreamFrame {
  const { calls, failed, retries, errorsByType, latency } = snapshot;
  const refused = Math.min(
    failed,
    REFUSALS.reduce((sum, name) => sum + (errorsByType[name] ?? 0), 0),
  );
  const share = (count: number) => (calls === 0 ? 0 : count / calls);
  return {
    calls,
    retries,
    failedRate: share(failed - refused),
    refusedRate: share(refused),
    p50: latency.p50,
    p95: latency.p95,
    p99: latency.p99,
  };
}

/** Reads one frame from the three APIs' admin routes and Prometheus endpoints. */
export async function readState(demo: RunningDemo): Promise<DashboardState> {
  const headers = { authorization: `Bearer ${demo.settings.adminToken}` };
  // The admin routes stamp errors and alerts with the clock's time; the page shows them in run time.
  const startedAt = demo.clock.now() - demo.load.elapsedMs;
  const get = async <T>(api: ApiName, path: string): Promise<T> => {
    const response = await fetch(`${demo.urls[api][0]}${path}`, { headers });
    if (!response.ok) throw new Error(`${api} ${path}: ${response.status}`);
    return (path === '/metrics' ? await response.text() : await response.json()) as T;
  };
  const frames = await Promise.all(
    API_NAMES.map(async (api) => {
      const [breakers, metrics, errors, alerts, prometheus] = await Promise.all([
        get<{ breakers: DashboardState['breakers'] }>(api, '/api/resilience/circuit-breakers'),
        get<{ collectors: Record<string, Snapshot> }>(api, '/api/resilience/metrics'),
        get<{ errors: { at: number; status: number; name: string; message: string }[] }>(
          api,
          '/api/resilience/errors/recent',
        ),
        get<{ history: { name: string; severity: string; status: string; at: number }[] }>(
          api,
          '/api/resilience/alerts',
        ),
        get<string>(api, '/metrics'),
      ]);
      return {
        api,
        breakers: breakers.breakers,
        frame: { upstream: upstreamFrame(metrics.collectors.upstream!) },
        rateLimits: rateLimitUsage(prometheus).map(({ key, usage }) => ({ api, key, usage })),
        errors: errors.errors
          .slice(0, 5)
          .map(({ at, status, name, message }) => ({ api, at: at - startedAt, status, name, message })),
        alerts: alerts.history
          .slice(-20)
          .map(({ name, severity, status, at }) => ({ api, name, severity, status, at: at - startedAt })),
      };
    }),
  );
  const breakers = new Map(frames.flatMap((f) => f.breakers).map((b) => [b.name, b]));
  return {
    ...progressOf(demo),
    windowS: demo.settings.windowMs / 1_000,
    // Read after the routes answered, so the phase shown is never newer than the breakers.
    phase: demo.provider.phase.name,
    breakers: [...breakers.values()].sort((a, b) => a.name.localeCompare(b.name)),
    apis: Object.fromEntries(frames.map((f) => [f.api, f.frame])) as Record<ApiName, ApiFrame>,
    rateLimits: frames.flatMap((f) => f.rateLimits),
    errors: frames
      .flatMap((f) => f.errors)
      .sort((a, b) => b.at - a.at)
      .slice(0, 10),
    // An alert's history holds its firing and its resolution: the page shows where each one is now.
    alerts: latestOfEach(frames.flatMap((f) => f.alerts).sort((a, b) => b.at - a.at)).slice(0, 10),
  };
}

/** The first entry of each API's alert name (the newest, in a list newest first). */
export function latestOfEach<T extends { api: string; name: string }>(alerts: readonly T[]): T[] {
  const seen = new Set<string>();
  return alerts.filter((a) => {
    const key = `${a.api} ${a.name}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** How far the run is: read from the demo itself at each frame. */
export function progressOf(demo: RunningDemo): Pick<DashboardState, 'elapsedMs' | 'durationMs'> {
  return { elapsedMs: Math.min(demo.load.elapsedMs, demo.settings.durationMs), durationMs: demo.settings.durationMs };
}

/** `resilience_rate_limit_usage_ratio{name="client-a"} 0.4` lines of a Prometheus text page. */
export function rateLimitUsage(text: string): { key: string; usage: number }[] {
  const line = /^resilience_rate_limit_usage_ratio\{name="([^"]+)"\} (\S+)$/gm;
  return [...text.matchAll(line)].map((m) => ({ key: m[1]!, usage: Number(m[2]) }));
}
