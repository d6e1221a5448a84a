import type { ServerResponse } from 'node:http';
import {
  type Alert,
  type BreakerRegistry,
  breakerRegistry,
  type HealthRegistry,
  type MetricsSnapshot,
  type OptionNames,
  type RecentError,
  type RegisteredBreaker,
  systemClock,
  worseBreakerState,
} from '@resilience/core';
import { OptionsValidator } from '@resilience/core/internal';
import type { Answer } from '../respond-once.js';
import { errorAnswer } from './answer.js';
import { MIDDLEWARE_DEFAULTS } from './defaults.js';
import { checkPrefix, healthAnswer, routePath, takesGet } from './health-routes.js';
import { refuseUncalled } from './uncalled.js';

/** What `authorize` may answer: allow (`true`), or refuse (`false`: 401 without an `Authorization` header, else 403; or the status). */
export type Authorization = boolean | 401 | 403;

/** A metrics collector as the admin routes read it. */
export interface AdminCollector {
  snapshot(): MetricsSnapshot;
  reset(): void;
}

/** Options of the adapters' `adminRoutes`; `C` is the framework's request (`req`, `ctx`). */
export interface AdminRoutesOptions<C> {
  /** Decides every request under `prefix` before anything is read or changed. Required. */
  authorize: (c: C) => Authorization | PromiseLike<Authorization>;
  /** @default '/api/resilience' */
  prefix?: string;
  /** The breakers listed, reset and isolated: a registry or a list. @default breakerRegistry (every breaker) */
  breakers?: Pick<BreakerRegistry, 'breakers'> | readonly RegisteredBreaker[];
  /** The registry behind `GET {prefix}/health`. */
  health?: HealthRegistry;
  /** Metrics collectors by name (`GET {prefix}/metrics/:name`); one collector is named `default`. */
  collectors?: AdminCollector | Readonly<Record<string, AdminCollector>>;
  /** An `alerting()` instance: its active alerts and history. */
  alerting?: { active(): Alert[]; history(): Alert[] };
  /** A `recentErrors()` list (what `errorHandler({ recentErrors })` records). */
  recentErrors?: { list(): RecentError[] };
  /** The `WWW-Authenticate` challenge sent with a 401 (RFC 9110 requires one), e.g. `'Basic realm="ops"'`. @default 'Bearer' */
  challenge?: string;
}

const OPTION_NAMES = {
  authorize: true,
  prefix: true,
  breakers: true,
  health: true,
  collectors: true,
  alerting: true,
  recentErrors: true,
  challenge: true,
} as const satisfies OptionNames<AdminRoutesOptions<unknown>>;

/** Answers a request under the prefix but an OPTIONS, or `undefined` for any other request. */
export type AdminRoute<C> = (c: C, res: ServerResponse, path: string) => Promise<Answer> | undefined;

type Breaker = RegisteredBreaker & { reset?(): unknown; isolate?(): unknown };

const json = (body: unknown): Answer => ({
  status: 200,
  headers: { 'content-type': 'application/json; charset=utf-8' },
  body: JSON.stringify(body),
});
// Every answer under the prefix, its refusals too (a 404 or 405 is heuristically cacheable), but
// the health report's max-age.
const noStore = (a: Answer): Answer => ({ ...a, headers: { 'cache-control': 'no-store', ...a.headers } });
const finite = (ms: number) => (Number.isFinite(ms) ? ms : null);
const isCollector = (c: unknown): c is AdminCollector => typeof (c as AdminCollector)?.snapshot === 'function';

function breakerView(name: string, list: readonly Breaker[]) {
  let pick = list[0]!;
  for (const b of list) if (worseBreakerState(pick.state, b.state) !== pick.state) pick = b;
  return { name, state: pick.state, retryAfterMs: finite(pick.retryAfterMs), count: list.length };
}

/** The admin routes shared by the Express and Koa adapters; see their `adminRoutes`. */
export function adminRoute<C>(options: AdminRoutesOptions<C>): AdminRoute<C> {
  refuseUncalled('adminRoutes', options);
  const v = new OptionsValidator('adminRoutes');
  const o = v.known(options, OPTION_NAMES);
  v.check(
    typeof o.authorize === 'function',
    'authorize',
    o.authorize,
    'a function (request) => true to allow it, false to refuse it: the admin routes have no default access',
  );
  checkPrefix(v, o.prefix);
  const source = o.breakers ?? breakerRegistry;
  v.check(
    Array.isArray(source) || typeof (source as BreakerRegistry)?.breakers === 'function',
    'breakers',
    o.breakers,
    'a breaker registry or a list of breakers',
  );
  v.check(o.health === undefined || typeof o.health?.run === 'function', 'health', o.health, 'a health() registry');
  const collectors: Record<string, AdminCollector> =
    o.collectors === undefined
      ? {}
      : isCollector(o.collectors)
        ? { default: o.collectors }
        : { ...(o.collectors as Record<string, AdminCollector>) };
  v.check(
    (o.collectors === undefined || (typeof o.collectors === 'object' && o.collectors !== null)) &&
      Object.values(collectors).every(isCollector),
    'collectors',
    o.collectors,
    'a metrics() collector or an object of them by name',
  );
  v.check(
    o.alerting === undefined || typeof o.alerting?.active === 'function',
    'alerting',
    o.alerting,
    'an alerting() instance',
  );
  v.check(
    o.recentErrors === undefined || typeof o.recentErrors?.list === 'function',
    'recentErrors',
    o.recentErrors,
    'a recentErrors() list',
  );
  v.check(
    o.challenge === undefined ||
      (typeof o.challenge === 'string' &&
        /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+( [\t\x20-\x7e\x80-\xff]*)?$/.test(o.challenge)),
    'challenge',
    o.challenge,
    "a WWW-Authenticate challenge such as 'Bearer' or 'Basic realm=\"ops\"'",
  );
  v.done();
  const challenge = o.challenge ?? MIDDLEWARE_DEFAULTS.adminRoutes.challenge;
  const authorize = o.authorize!;
  const prefix = o.prefix ?? MIDDLEWARE_DEFAULTS.adminRoutes.prefix;
  const list = (): Breaker[] => (Array.isArray(source) ? [...source] : (source as BreakerRegistry).breakers());
  const named = (name: string) => list().filter((b) => b.name === name);
  const notFound = (res: ServerResponse) => errorAnswer(res, { status: 404 });

  async function act(res: ServerResponse, name: string, action: 'reset' | 'isolate'): Promise<Answer> {
    const found = named(name);
    if (found.length === 0) return notFound(res);
    for (const b of found) {
      // A breaker that cannot do it: the route takes no method here (RFC 9110: an empty Allow).
      if (typeof b[action] !== 'function') {
        const refused = errorAnswer(res, { status: 405 });
        return { ...refused, headers: { ...refused.headers, allow: '' } };
      }
    }
    for (const b of found) await b[action]!();
    return json(breakerView(name, named(name)));
  }

  /** The method a path under the prefix takes (`GET` also answers `HEAD`), or undefined when it is no route. */
  function methodOf([head, name, tail, extra]: readonly string[]): 'GET' | 'POST' | undefined {
    if (extra !== undefined) return undefined;
    if (head === 'circuit-breakers' || head === 'metrics') {
      if (tail === undefined) return 'GET';
      if (tail === 'reset' || (tail === 'isolate' && head === 'circuit-breakers')) return 'POST';
      return tail === 'error-rate' && head === 'metrics' ? 'GET' : undefined;
    }
    if (tail !== undefined) return undefined;
    if (head === 'health') return name === undefined && o.health !== undefined ? 'GET' : undefined;
    if (head === 'errors') return name === 'recent' && o.recentErrors !== undefined ? 'GET' : undefined;
    if (head === 'alerts') return name === undefined && o.alerting !== undefined ? 'GET' : undefined;
    return undefined;
  }

  async function route(res: ServerResponse, method: string, parts: readonly string[]): Promise<Answer> {
    const takes = methodOf(parts);
    if (takes === undefined) return notFound(res);
    if (takes === 'GET' ? !takesGet(method) : method !== takes) {
      return errorAnswer(res, { status: 405, headers: { allow: takes === 'GET' ? 'GET, HEAD' : 'POST' } });
    }
    const [head, name, tail] = parts;
    if (head === 'health') return healthAnswer(o.health!, {}, systemClock, true);
    if (head === 'errors') return json({ errors: o.recentErrors!.list() });
    if (head === 'alerts') return json({ active: o.alerting!.active(), history: o.alerting!.history() });
    if (head === 'circuit-breakers') {
      if (name === undefined) {
        const groups = new Map<string, Breaker[]>();
        for (const b of list()) groups.set(b.name, [...(groups.get(b.name) ?? []), b]);
        return json({ breakers: [...groups].map(([n, bs]) => breakerView(n, bs)) });
      }
      if (tail === 'reset' || tail === 'isolate') return act(res, name, tail);
      const found = named(name);
      return found.length === 0 ? notFound(res) : json(breakerView(name, found));
    }
    if (name === undefined) {
      return json({ collectors: Object.fromEntries(Object.entries(collectors).map(([n, c]) => [n, c.snapshot()])) });
    }
    const collector = Object.hasOwn(collectors, name) ? collectors[name]! : undefined;
    if (collector === undefined) return notFound(res);
    if (tail === 'reset') {
      collector.reset();
      return json({ name, reset: true });
    }
    const s = collector.snapshot();
    return json(
      tail === undefined ? { name, ...s } : { name, errorRate: s.errorRate, calls: s.calls, failed: s.failed },
    );
  }

  /**
   * The segments after the prefix, each decoded (`%2F` stays in its name); none for an empty
   * segment (`//`, two trailing `/`) or a malformed escape: only the documented paths act.
   */
  function segments(path: string): string[] | undefined {
    const parts = routePath(path)
      .slice(prefix.length + 1)
      .split('/');
    if (parts.includes('')) return undefined;
    try {
      return parts.map(decodeURIComponent);
    } catch {
      return undefined;
    }
  }

  return function adminRoute(c, res, path) {
    const method = res.req?.method ?? 'GET';
    // An OPTIONS (a CORS preflight: no credentials) goes on unauthorized to the app's CORS middleware.
    if (method === 'OPTIONS' || (path !== prefix && !path.startsWith(`${prefix}/`))) return undefined;
    return Promise.resolve(authorize(c))
      .then((allowed) => {
        if (allowed !== true) {
          const status =
            allowed === 401 || allowed === 403 ? allowed : res.req?.headers.authorization === undefined ? 401 : 403;
          return errorAnswer(res, { status }, { challenge });
        }
        const parts = segments(path);
        return parts === undefined ? notFound(res) : route(res, method, parts);
      })
      .then(noStore);
  };
}
