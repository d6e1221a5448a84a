import type { OptionNames } from '@resilience/core';
import { OptionsValidator } from '@resilience/core/internal';
import type { Answer } from '../respond-once.js';
import { MIDDLEWARE_DEFAULTS } from './defaults.js';
import { routePath, takesGet } from './health-routes.js';
import { refuseUncalled } from './uncalled.js';

/** What `metricsRoute` needs of a prom-client `Registry` (its type is not imported: prom-client is an optional peer). */
export interface MetricsRegistry {
  metrics(): Promise<string> | string;
  readonly contentType: string;
}

/** Options of the adapters' `metricsRoute`. */
export interface MetricsRouteOptions {
  /** A prom-client `Registry`, with `registerResilienceMetrics` from `@resilience/prometheus` on it. Required. */
  registry: MetricsRegistry;
  /** @default '/metrics' */
  path?: string;
}

const OPTION_NAMES = { registry: true, path: true } as const satisfies OptionNames<MetricsRouteOptions>;

/**
 * The answer for a GET or HEAD of the path (one trailing `/` allowed), or `undefined` for any
 * other request. `url` is the request's URL as the framework routes it (path and query);
 * `path()` its path, asked only when the URL holds the metrics path at all (on Express
 * `req.path` is a slow getter).
 */
export type MetricsRoute = (
  method: string | undefined,
  url: string | undefined,
  path: () => string,
) => Promise<Answer> | undefined;

/** The metrics route shared by the Express and Koa adapters; see their `metricsRoute`. */
export function metricsRoute(options: MetricsRouteOptions): MetricsRoute {
  refuseUncalled('metricsRoute', options);
  const v = new OptionsValidator('metricsRoute');
  const o = v.known(options, OPTION_NAMES);
  const registry = o.registry;
  v.check(
    typeof registry?.metrics === 'function' && typeof registry.contentType === 'string',
    'registry',
    registry,
    'a prom-client Registry',
  );
  v.check(
    o.path === undefined || (typeof o.path === 'string' && o.path.startsWith('/')),
    'path',
    o.path,
    "a path such as '/metrics'",
  );
  v.done();
  const path = routePath(o.path ?? MIDDLEWARE_DEFAULTS.metricsRoute.path);
  return function metricsRoute(method, url, requested) {
    // The path is part of the URL in every form (`/metrics/?x`, `http://host/metrics`).
    if (!takesGet(method) || !url?.includes(path) || routePath(requested()) !== path) return undefined;
    return Promise.resolve(registry!.metrics()).then((text) => ({
      status: 200,
      headers: { 'content-type': registry!.contentType, 'cache-control': 'no-store' },
      body: text,
    }));
  };
}
