import {
  type Clock,
  type HealthCheckKind,
  type HealthCheckResult,
  type HealthJsonOptions,
  type HealthRegistry,
  type HealthReport,
  healthResponse,
  type OptionNames,
  systemClock,
} from '@resilience/core';
import { checkHealthJson, OptionsValidator } from '@resilience/core/internal';
import type { Answer } from '../respond-once.js';
import { turnedOff } from '../shutdown/process-wide.js';
import { MIDDLEWARE_DEFAULTS } from './defaults.js';
import { refuseUncalled } from './uncalled.js';

/** Options of the adapters' `healthRoutes`. */
export interface HealthRoutesOptions extends Omit<HealthJsonOptions, 'time'> {
  /** Put before `/health`, `/health/live` and `/health/ready`. @default '' */
  prefix?: string;
  /** Stamps the reports' `time`. @default systemClock */
  clock?: Clock;
  /** Show a failing check's error (the message it threw, its timeout), not only the `output` it returned. @default false */
  expose?: boolean;
}

const OPTION_NAMES = {
  prefix: true,
  clock: true,
  expose: true,
  serviceId: true,
  version: true,
  releaseId: true,
  description: true,
  notes: true,
  links: true,
} as const satisfies OptionNames<HealthRoutesOptions>;

/** The answer for a GET or HEAD of one of the routes (one trailing `/` allowed), else `undefined`. */
export type HealthRoute = (method: string | undefined, path: string) => Promise<Answer> | undefined;

/**
 * A request path as the routes compare it: one trailing `/` dropped, as Express's default
 * (non-strict) routing and @koa/router's do (`/health/` is `/health`; `/health//` is not).
 */
export const routePath = (p: string): string => (p.endsWith('/') ? p.slice(0, -1) : p);

/** Whether a GET route answers `method`: GET, and HEAD as GET (Node sends no body to a HEAD). */
export const takesGet = (m: string | undefined): boolean => m === 'GET' || m === 'HEAD';

/** Checks a path prefix option: empty, or `/` then more, without a trailing `/`. */
export function checkPrefix(v: OptionsValidator, prefix: unknown): void {
  v.check(
    prefix === undefined || (typeof prefix === 'string' && (prefix === '' || /^\/.*[^/]$/.test(prefix))),
    'prefix',
    prefix,
    "'' or a path such as '/ops' (no trailing /)",
  );
}

/** What readiness reports once a shutdown turned it off: its failing check alone. */
const SHUTTING_DOWN: HealthReport = {
  status: 'unhealthy',
  healthy: false,
  failed: ['shutdown'],
  checks: { shutdown: { status: 'fail', durationMs: 0, consecutiveFailures: 1, output: 'shutting down' } },
};

/** A check's result without `error`: the message of what it threw, its timeout, `check returned false`. */
function withoutError({ error: _, ...result }: HealthCheckResult): HealthCheckResult {
  return result;
}

/**
 * What `report` has left of the registry's cache life. A registry made by an older copy of
 * `@resilience/core` (the app's own, beside the adapter's) has no `maxAgeMs`: its `cacheMs`
 * then, as such copies always sent, rather than a failed health route.
 */
const maxAgeOf = (registry: HealthRegistry, report: HealthReport): number =>
  typeof registry.maxAgeMs === 'function' ? registry.maxAgeMs(report) : registry.cacheMs;

/** A check's BigInt reading (`process.hrtime.bigint()`) as a JSON number: JSON.stringify throws on it. */
const numbered = (_key: string, value: unknown): unknown => (typeof value === 'bigint' ? Number(value) : value);

/**
 * Runs the checks of one kind (`run`, as `registry.run` takes it) and answers with
 * `application/health+json`; the failures' errors are left out unless `expose` (see
 * {@link HealthRoutesOptions.expose}). `Cache-Control: max-age` is what the report has left
 * of the registry's `cacheMs`, not all of it: a report served from the cache is already part
 * stale, and its checks' `time` is when it was taken.
 */
export function healthAnswer(
  registry: HealthRegistry,
  run: { kind?: HealthCheckKind },
  clock: Clock,
  expose: boolean,
  json: HealthJsonOptions = {},
  reported: Promise<HealthReport> = registry.run(run),
): Promise<Answer> {
  return reported.then((report) => {
    const shown = expose
      ? report
      : { ...report, checks: Object.fromEntries(Object.entries(report.checks).map(([n, r]) => [n, withoutError(r)])) };
    const maxAgeMs = maxAgeOf(registry, report);
    // The draft's `time` is when the reading was: a cached or scheduled report's is past. (A
    // registry of an older core has no ageMs: its cached report was taken `cacheMs - maxAgeMs` ago.)
    const age =
      typeof registry.ageMs === 'function' ? registry.ageMs(report) : maxAgeMs > 0 ? registry.cacheMs - maxAgeMs : 0;
    const time = clock.now() - age;
    const r = healthResponse(shown, { ...json, time, maxAgeMs });
    return { status: r.status, headers: r.headers, body: JSON.stringify(r.body, numbered) };
  });
}

/** The health routes shared by the Express and Koa adapters; see their `healthRoutes`. */
export function healthRoute(registry: HealthRegistry, options: HealthRoutesOptions = {}): HealthRoute {
  refuseUncalled('healthRoutes', registry);
  const v = new OptionsValidator('healthRoutes');
  v.check(typeof registry?.run === 'function', 'registry', registry, 'a health() registry');
  const {
    prefix = MIDDLEWARE_DEFAULTS.healthRoutes.prefix,
    clock = systemClock,
    expose = MIDDLEWARE_DEFAULTS.healthRoutes.expose,
    ...json
  } = v.known(options, OPTION_NAMES);
  checkPrefix(v, prefix);
  v.clock('clock', clock);
  v.boolean('expose', expose);
  // serviceId, version, notes, links: checked once here, not by every health response.
  checkHealthJson(v, json);
  v.done();
  // What each path runs, made once: `run()` only reads it.
  const runs = new Map<string, { kind?: HealthCheckKind }>([
    [`${prefix}/health`, {}],
    [`${prefix}/health/live`, { kind: 'liveness' }],
    [`${prefix}/health/ready`, { kind: 'readiness' }],
  ]);
  return function healthRoute(method, path) {
    const run = runs.get(routePath(path));
    if (!run || !takesGet(method)) return undefined;
    // Shutting down: readiness (and /health) is 503 at once, without waiting for (or running) a dependency check.
    const down = run.kind !== 'liveness' && turnedOff.has(registry) ? Promise.resolve(SHUTTING_DOWN) : undefined;
    return healthAnswer(registry, run, clock, expose, json, down);
  };
}
