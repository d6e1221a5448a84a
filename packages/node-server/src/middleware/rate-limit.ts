import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  type Clock,
  clientIpKey,
  coarseSystemClock,
  type EventLogger,
  isStoreUnavailableError,
  mergeRateLimitFields,
  type OptionNames,
  type ProxyTrust,
  proxyTrustWarning,
  type RateLimitAlgorithm,
  type RateLimitDecision,
  type RateLimiter,
  type RateLimiterOptions,
  type RateLimitHeadersMode,
  rateLimiter,
  rateLimitResponder,
  type Store,
} from '@resilience/core';
import { checkNested, emitHttpDecision, OptionsValidator, RATE_LIMIT_FIELDS } from '@resilience/core/internal';
import { fieldOf, headersOf, setField } from '../accessors.js';
import { loggedText } from '../logged-path.js';
import { consoleLogger, quietLogger } from '../logger.js';
import { claimResponse, requestCorrelationId } from '../request-state.js';
import type { Answer } from '../respond-once.js';
import { refuseTheirs } from '../their-options.js';
import { errorAnswer, headerText, setHeaders } from './answer.js';
import { MIDDLEWARE_DEFAULTS } from './defaults.js';
import { refuseUncalled } from './uncalled.js';

/** Options of the adapters' `rateLimit` middleware; `C` is the framework's request (`req`, `ctx`). */
export interface RateLimitOptions<C> {
  /** The limit (or several, applied all-or-nothing); the middleware builds its limiter. Give this or `limiter`. */
  // biome-ignore lint/suspicious/noExplicitAny: any algorithm's state.
  algorithm?: RateLimitAlgorithm<any> | readonly RateLimitAlgorithm<any>[];
  /** A limiter of your own (`rateLimiter(...)`), instead of `algorithm`, `store` and `onStoreError`. */
  limiter?: RateLimiter;
  /** Where the counts live: share one (`@resilience/redis`) between instances. @default memoryStore() */
  store?: Store;
  /** Whose quota a request takes from; `''` for the client IP. @default the client IP (IPv6 by /56, see clientIpKey) */
  key?: (c: C) => string | PromiseLike<string>;
  /** What a request costs. A fixed cost above what a limit ever admits is refused at construction; a function's, with a 429 and no Retry-After. @default 1 */
  cost?: number | ((c: C) => number | PromiseLike<number>);
  /** Requests that pass uncounted and without rate-limit fields (health probes, say). */
  skip?: (c: C) => boolean | PromiseLike<boolean>;
  /** The policy name in `RateLimit-Policy` and `violated-policies`. @default the limiter's name, else 'default' */
  name?: string;
  /** `'draft'` (RateLimit, RateLimit-Policy), `'legacy'` (RateLimit-Limit/-Remaining/-Reset, X-RateLimit-*) or `'both'`. @default 'draft' */
  headers?: RateLimitHeadersMode;
  /** When the store fails: `'open'` passes the request, `'closed'` answers 503, a store decides instead. @default 'open' */
  onStoreError?: 'open' | 'closed' | Store;
  /** @default coarseSystemClock */
  clock?: Clock;
  /** Where the proxy-trust warning and store outages are logged. @default console */
  logger?: EventLogger;
}

const OPTION_NAMES = {
  algorithm: true,
  limiter: true,
  store: true,
  key: true,
  cost: true,
  skip: true,
  name: true,
  headers: true,
  onStoreError: true,
  clock: true,
  logger: true,
} as const satisfies OptionNames<RateLimitOptions<unknown>>;

// express-rate-limit's and koa-ratelimit's names that core does not point anywhere: the answer
// to a refusal, which is not an option here (docs/migrating.md shows one of your own).
const OWN_ANSWER = 'none: a 429 with a problem+json body; for your own, rateLimiter() and rateLimitResponder()';
const UNCOUNTED = 'none: a request counts on arrival, whatever its answer';
const THEIRS: Record<string, string> = {
  message: OWN_ANSWER,
  handler: OWN_ANSWER,
  statusCode: OWN_ANSWER,
  errorMessage: OWN_ANSWER,
  disableHeader: 'none: the draft-10 fields are always set; headers picks which',
  throw: 'none: the 429 is answered, never thrown',
  blacklist: 'none: refuse those requests in a middleware before it',
  onLimited: "onHttpDecision() from core, decision 'rate_limited'",
  status: OWN_ANSWER,
  namespace: 'name, which namespaces the store keys',
  whitelist: 'skip',
  skipFailedRequests: UNCOUNTED,
  skipSuccessfulRequests: UNCOUNTED,
  requestWasSuccessful: UNCOUNTED,
  validate: 'logger, warned of each misconfiguration',
  requestPropertyName: 'none: read the RateLimit header',
  ipv6Subnet: 'key: clientIpKey(ip, { ipv6PrefixLength })',
};

/**
 * express-rate-limit's `standardHeaders` and `legacyHeaders` (off and on by default) as the
 * `headers` mode that sends their fields: the README's `'draft-8'` with `legacyHeaders: false`
 * is `'draft'`, not `'both'`. Read as data, no getter called.
 */
function headerModes(options: unknown): Record<string, string> {
  try {
    const std = Object.getOwnPropertyDescriptor(options, 'standardHeaders');
    const x = Object.getOwnPropertyDescriptor(options, 'legacyHeaders');
    if (!std && !x) return {};
    const s = std?.value;
    const legacy = x?.value ?? true;
    const hint = `headers: '${s === 'draft-8' ? (legacy ? 'both' : 'draft') : s === true || s === 'draft-6' || legacy ? 'legacy' : 'draft'}'`;
    return { standardHeaders: hint, legacyHeaders: hint };
  } catch {
    return {};
  }
}

/** What the framework tells the rate limiter about a request. */
export interface RateLimitPort<C> {
  readonly framework: 'express' | 'koa';
  /** The Node request (Express: `req` itself, no load from the response). */
  request(c: C): IncomingMessage;
  /** The client address as the framework resolved it (proxies applied); `xff`: the request has `X-Forwarded-For`. */
  ip(c: C, xff: boolean): string | undefined;
  /** How the app resolves client addresses behind proxies. */
  trust(c: C): ProxyTrust;
  /** The one forwarding field the framework reads (`X-Forwarded-For`, Koa's `proxyIpHeader`). */
  field(c: C): string;
}

/**
 * Takes one request's cost: resolves `undefined` when it may go on (the rate-limit fields are
 * set on `res`) or the answer to send instead (429, or 503 when the store failed closed).
 * Other errors reject (bugs: pass them on).
 */
export type RateLimitCheck<C> = (c: C, res: ServerResponse) => Answer | undefined | Promise<Answer | undefined>;

/** The rate limit shared by the Express and Koa adapters; see their `rateLimit`. */
export function rateLimitCheck<C>(options: RateLimitOptions<C>, port: RateLimitPort<C>): RateLimitCheck<C> {
  refuseUncalled('rateLimit', options);
  const v = new OptionsValidator('rateLimit');
  refuseTheirs(v, options, { ...THEIRS, ...headerModes(options) });
  const o = v.known(options, OPTION_NAMES);
  v.check(
    (o.algorithm === undefined) !== (o.limiter === undefined),
    'algorithm',
    o.algorithm,
    'algorithm or limiter, one of them',
  );
  const limiterOk =
    o.limiter === undefined || (typeof o.limiter?.consume === 'function' && Array.isArray(o.limiter.algorithms));
  v.check(limiterOk, 'limiter', o.limiter, 'a rateLimiter(...)');
  if (o.limiter !== undefined) {
    v.check(o.store === undefined, 'store', o.store, 'nothing with limiter (give the store to the limiter)');
    v.check(
      o.onStoreError === undefined,
      'onStoreError',
      o.onStoreError,
      'nothing with limiter (give it to the limiter)',
    );
  }
  v.string('name', o.name);
  // koa-ratelimit's headers name its fields; ours are fixed.
  const fixed = typeof o.headers === 'object' ? " (koa-ratelimit's field names? here fixed: 'legacy')" : '';
  const mode = o.headers === undefined || ['draft', 'legacy', 'both'].includes(o.headers);
  v.check(mode, 'headers', o.headers, `one of "draft", "legacy", "both"${fixed}`);
  v.function('key', o.key);
  v.function('skip', o.skip);
  v.check(
    o.cost === undefined || typeof o.cost === 'function' || (typeof o.cost === 'number' && o.cost >= 0),
    'cost',
    o.cost,
    'a number >= 0 or a function of the request',
  );
  v.clock('clock', o.clock);
  v.logger('logger', o.logger);
  const clock = o.clock ?? coarseSystemClock;
  const name = o.name ?? o.limiter?.name ?? MIDDLEWARE_DEFAULTS.rateLimit.name;
  // The limiter checks algorithm, store and onStoreError: its issues are reported with ours, in
  // one `rateLimit` error, unless an option it reads too was already found bad. (Core reads an
  // option set to `undefined` as one not given.)
  const built =
    o.limiter ??
    checkNested(
      v,
      undefined,
      () =>
        rateLimiter({
          algorithm: o.algorithm!,
          name,
          clock,
          store: o.store,
          onStoreError: o.onStoreError,
        } as RateLimiterOptions),
      ['algorithm', 'name', 'clock'],
    );
  const cost = o.cost ?? MIDDLEWARE_DEFAULTS.rateLimit.cost;
  const maxCost = limiterOk && built !== undefined ? Math.min(...built.algorithms.map((a) => a.maxCost)) : 0;
  if (typeof cost === 'number' && limiterOk && built !== undefined) {
    // A cost no limit can ever admit would fail every request (a 500), not refuse it: said here instead.
    const why = o.cost === undefined ? ` (${cost}, the default, is not)` : '';
    v.check(!(cost > maxCost), 'cost', o.cost, `a number >= 0 and <= ${maxCost}, the most the limit ever admits${why}`);
  }
  // The responder checks the name as a policy name (printable ASCII): named as this option.
  const respond =
    built &&
    checkNested(
      v,
      undefined,
      () =>
        rateLimitResponder(
          [{ name, algorithms: built.algorithms }],
          o.headers === undefined ? {} : { headers: o.headers },
        ),
      ['headers', 'limiter'],
      { 'limiters[0].name': 'name' },
    );
  v.done();
  const limiter = built!; // built, or an issue was reported
  const logger = quietLogger(o.logger ?? consoleLogger);
  limiter.onEvent((event) => {
    if (event.type !== 'store_error') return;
    logger.warn(
      { policy: name, unreported: event.unreported, error: event.error.message },
      `rateLimit "${name}": the store failed (${loggedText(event.error.message)}); requests are decided by onStoreError until it is back`,
    );
  });
  const keyOf = o.key;
  const costOf = typeof o.cost === 'function' ? o.cost : undefined;
  const fixedCost = typeof o.cost === 'number' ? o.cost : MIDDLEWARE_DEFAULTS.rateLimit.cost;
  const skip = o.skip;
  const sync = limiter.synchronous;
  let warned = false;
  let shared = false;
  const quotedName = `"${name}"`; // as the policy field names it

  const ipKey = (c: C): string => {
    const headers = headersOf(port.request(c));
    // Only a forwarded request can show a misconfiguration (see proxyTrustWarning): the
    // others cost no look-up of the app's proxy setting.
    const xff = headers['x-forwarded-for'] !== undefined;
    if (!warned) {
      // Koa's proxyIpHeader may name another field (X-Real-IP): sent while no proxy is trusted, it is one too.
      const field = port.field(c);
      const other = field !== 'X-Forwarded-For' && headers[field.toLowerCase()] !== undefined;
      if (xff || other || headers.forwarded !== undefined) {
        const warning = proxyTrustWarning({ headers, trust: port.trust(c), framework: port.framework, field });
        if (warning !== undefined) {
          warned = true;
          logger.warn({ policy: name }, `rateLimit "${name}": ${warning}`);
        }
      }
    }
    return clientIpKey(port.ip(c, xff) ?? '');
  };

  const draft = respond!.draft;
  // `detail`: a refusal no wait ends (see beyondQuota), sent without a time to come back.
  const decide = (
    res: ServerResponse,
    d: RateLimitDecision,
    detail?: (violated: readonly string[]) => string,
  ): Answer | undefined => {
    // Nearly every response: one limit allowing and counted, in draft mode, and no rate-limit fields yet
    // (an earlier limiter's legacy fields stay as they are, as a merge would leave them):
    // two fields set, nothing built.
    if (
      draft !== undefined &&
      d.allowed &&
      d.uncounted === undefined &&
      fieldOf(res, 'ratelimit-policy') === undefined
    ) {
      setField(res, 'ratelimit-policy', draft.policy);
      setField(res, 'ratelimit', draft.ratelimit(d));
      return undefined;
    }
    if (!shared && String(fieldOf(res, 'ratelimit-policy')).includes(quotedName)) {
      shared = true; // two middlewares left unnamed are both "default"
      logger.warn(
        { policy: name },
        `rateLimit "${name}": another rateLimit middleware on this request has the same name, so clients cannot tell the two limits apart; give each its own name`,
      );
    }
    const r = respond!([d], clock.now(), d.allowed ? undefined : { correlationId: requestCorrelationId(res) });
    // An earlier limiter's fields, every one the merge reads: the legacy fields of the more
    // constrained limit are kept whole (its limit, remaining and reset, never a mix of two).
    const headers =
      res.hasHeader('ratelimit-policy') || res.hasHeader('ratelimit-remaining')
        ? mergeRateLimitFields(headerText(res, RATE_LIMIT_FIELDS), r.headers)
        : r.headers;
    if (r.status === undefined) {
      setHeaders(res, headers);
      return undefined;
    }
    emitHttpDecision({ decision: 'rate_limited', policy: name });
    if (detail === undefined) return { status: r.status, headers, body: JSON.stringify(r.body) };
    for (const field of ['retry-after', 'ratelimit-reset', 'x-ratelimit-reset']) delete headers[field];
    return { status: r.status, headers, body: JSON.stringify({ ...r.body, detail: detail(r.violated) }) };
  };
  // A cost from the request above what a limit ever admits (a client asking for more tokens
  // than a whole window holds) can never pass: refused as over quota, taking nothing, not a 500.
  const beyondQuota = (res: ServerResponse, cost: number): Answer | undefined => {
    const limits = limiter.algorithms.map((a) => ({
      allowed: cost <= a.maxCost,
      limit: a.limit,
      remaining: 0,
      resetMs: 0,
      retryAfterMs: 0,
      uncounted: true as const, // nothing counted: no RateLimit item
    }));
    const refusing = limits.find((l) => !l.allowed)!;
    const most = Math.max(...limiter.algorithms.filter((a) => cost > a.maxCost).map((a) => a.maxCost));
    return decide(res, limits.length === 1 ? refusing : { ...refusing, limits }, (violated) => {
      const names = violated.map((n) => `"${n}"`).join(', ');
      const which = violated.length > 1 ? `policies ${names} ever admit` : `policy ${names} ever admits`;
      return `the request costs ${cost}, more than the ${most} the ${which}`;
    });
  };
  const failed = (res: ServerResponse, error: unknown): Answer => {
    if (!isStoreUnavailableError(error)) throw error;
    emitHttpDecision({ decision: 'store_unavailable', policy: name });
    return errorAnswer(res, error);
  };

  const slow = async (c: C, res: ServerResponse): Promise<Answer | undefined> => {
    if (skip !== undefined && (await skip(c))) return undefined;
    const own = keyOf === undefined ? '' : await keyOf(c);
    // '' (no API key sent, say): counted under the client address, as without `key`; one key for
    // every such request would let one client spend the quota of all. Not a string: consume throws.
    const key = own === '' ? ipKey(c) : own;
    const cost = costOf === undefined ? fixedCost : await costOf(c);
    // Not left to consume's default of 1: a lookup that found nothing is a bug to see, not a request charged 1.
    if (typeof cost !== 'number') {
      throw new TypeError(
        `rateLimit "${name}": cost(request) must return a number >= 0, received ${cost === null ? 'null' : typeof cost}`,
      );
    }
    if (cost > maxCost) return beyondQuota(res, cost);
    try {
      return decide(res, await limiter.consume(key, cost));
    } catch (error) {
      return failed(res, error);
    }
  };

  return function rateLimitCheck(c, res) {
    // A request reached twice by this middleware (mounted on the app and on a router) counts once.
    if (!claimResponse(res, rateLimitCheck)) return undefined;
    // The common case, a memory store with the client IP as key: no promise at all.
    if (sync && skip === undefined && keyOf === undefined && costOf === undefined) {
      return decide(res, limiter.consumeSync(ipKey(c), fixedCost));
    }
    return slow(c, res);
  };
}
