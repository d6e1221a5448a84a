import { OptionsValidator } from '../errors/validate.js';
import type { RateLimitAlgorithm, RateLimitDecision } from '../ratelimit/algorithm.js';
import {
  HTTP_DEFAULTS,
  RATE_LIMIT_HEADERS_MODES,
  RATE_LIMIT_RESPONDER_OPTION_NAMES,
  type RateLimitResponderOptions,
} from './options.js';
import { type ProblemContext, type ProblemDetails, problemResponse, retryAfterSeconds } from './problem.js';
import { isSerializableString, serializeString } from './structured-fields.js';

/** What the responder needs of a limiter: its name and algorithms (a `RateLimiter` is one). */
export interface RateLimitSource {
  readonly name: string;
  // biome-ignore lint/suspicious/noExplicitAny: any algorithm's state.
  readonly algorithms: readonly RateLimitAlgorithm<any>[];
}

/** The rate-limit part of a response. */
export interface RateLimitResponse {
  /** Whether every limit admitted the request. */
  readonly allowed: boolean;
  /** The policy names that refused it (the problem's `violated-policies`). */
  readonly violated: readonly string[];
  /**
   * Header fields to set, lower-case names: always the chosen rate-limit fields; on a
   * refusal also `retry-after` and `content-type`.
   */
  readonly headers: Record<string, string>;
  /** 429 when refused. */
  readonly status?: 429;
  /** The `quota-exceeded` problem when refused. */
  readonly body?: ProblemDetails;
}

/** Builds the rate-limit part of each response from the decisions of its limiters. */
export interface RateLimitResponder {
  (decisions: readonly RateLimitDecision[], nowMs: number, context?: ProblemContext): RateLimitResponse;
  /**
   * With one limit of one algorithm and `headers: 'draft'`, the two fields of an allowed
   * response, for a caller that sets them itself instead of building a response: the same
   * values the call gives. `undefined` otherwise.
   */
  readonly draft: DraftFields | undefined;
}

/** The draft fields of an allowed response to one limit; see {@link RateLimitResponder.draft}. */
export interface DraftFields {
  /** The `RateLimit-Policy` value, the same on every response. */
  readonly policy: string;
  /** The `RateLimit` value for an allowed decision. */
  ratelimit(decision: RateLimitDecision): string;
}

interface Policy {
  /** The policy name as a structured-field String. */
  readonly item: string;
  readonly name: string;
  readonly quota: number;
  readonly windowSeconds: number;
}

/** A decision reported against one policy. */
interface Report {
  readonly policy: Policy;
  readonly decision: RateLimitDecision;
  /** Seconds until the quota is back (allowed) or the request would be admitted (refused). */
  readonly t: number;
}

// A structured-field Integer: at most 15 digits, never `1e+21`.
const integer = (n: number) => String(Math.min(999_999_999_999_999, Math.max(0, Math.floor(n))));
const NONE: readonly string[] = [];

/**
 * The rate-limit header fields of each response (draft-ietf-httpapi-ratelimit-headers-10),
 * given the decisions of the limiters it was built with, in order; a refusal adds 429,
 * `Retry-After` and a `quota-exceeded` problem. See docs/http.md.
 */
export function rateLimitResponder(
  limiters: readonly RateLimitSource[],
  options: RateLimitResponderOptions = {},
): RateLimitResponder {
  const v = new OptionsValidator('rateLimitResponder');
  const o = v.known(options, RATE_LIMIT_RESPONDER_OPTION_NAMES);
  v.oneOf('headers', o.headers, RATE_LIMIT_HEADERS_MODES);
  const list = Array.isArray(limiters) ? limiters : [];
  v.check(list.length > 0, 'limiters', limiters, 'a non-empty array of limiters ({ name, algorithms })');
  const groups: Policy[][] = [];
  const taken = new Set<string>();
  list.forEach((limiter, i) => {
    const name = limiter?.name;
    const algorithms: RateLimitSource['algorithms'] = Array.isArray(limiter?.algorithms) ? limiter.algorithms : [];
    const names = algorithms.length > 1 ? algorithms.map((_, j) => `${name}-${j + 1}`) : [name];
    const fine =
      typeof name === 'string' && name.length > 0 && names.every((n) => isSerializableString(n) && !taken.has(n));
    v.check(fine, `limiters[${i}].name`, name, 'a non-empty name of printable ASCII, not used by another limit');
    v.check(algorithms.length > 0, `limiters[${i}].algorithms`, limiter?.algorithms, 'at least one algorithm');
    for (const n of names) taken.add(n);
    if (fine) {
      groups.push(
        algorithms.map((a, j) => ({
          name: names[j]!,
          item: serializeString(names[j]!),
          quota: a.limit,
          windowSeconds: retryAfterSeconds(a.windowMs),
        })),
      );
    }
  });
  v.done();
  const mode = o.headers ?? HTTP_DEFAULTS.headers;
  const draft = mode !== 'legacy';
  const legacy = mode !== 'draft';
  const policyField = groups
    .flat()
    .map((p) => `${p.item};q=${integer(p.quota)};w=${p.windowSeconds}`)
    .join(', ');

  // One limit admitting a request (nearly every response): one string, no arrays.
  const only = groups.length === 1 && groups[0]!.length === 1 && mode === 'draft' ? groups[0]![0]! : undefined;
  const prefix = `${only?.item};r=`;
  const fast: DraftFields | undefined =
    only === undefined
      ? undefined
      : {
          policy: policyField,
          // The name's part made once; the numbers go into the text as they are (no `String()`).
          ratelimit: (d) => `${prefix}${integer(d.remaining)};t=${retryAfterSeconds(d.resetMs)}`,
        };

  const respond = (
    decisions: readonly RateLimitDecision[],
    nowMs: number,
    context: ProblemContext = {},
  ): RateLimitResponse => {
    const first = decisions?.[0];
    if (fast !== undefined && first?.allowed === true && first.uncounted !== true && decisions.length === 1) {
      return {
        allowed: true,
        violated: NONE,
        headers: { 'ratelimit-policy': policyField, ratelimit: fast.ratelimit(first) },
      };
    }
    if (!Array.isArray(decisions) || decisions.length !== groups.length) {
      throw new TypeError(
        `rateLimitResponder: decisions: expected one decision per limiter (${groups.length}), received ${
          Array.isArray(decisions) ? decisions.length : typeof decisions
        }`,
      );
    }
    const reports: Report[] = [];
    groups.forEach((policies, i) => {
      const decision = decisions[i]!;
      const each = policies.length > 1 && decision.limits?.length === policies.length ? decision.limits : undefined;
      policies.forEach((policy, j) => {
        // Without per-limit decisions, the combined one stands for the limit it describes.
        const d = each?.[j] ?? decision;
        if (each === undefined && policies.length > 1 && policy.quota !== decision.limit) return;
        reports.push({ policy, decision: d, t: retryAfterSeconds(d.allowed ? d.resetMs : d.retryAfterMs) });
      });
    });
    const headers: Record<string, string> = {};
    // A limit passed uncounted (its store is down) has no state to tell: listed, not reported.
    const counted = reports.filter((r) => r.decision.uncounted !== true);
    if (draft) {
      headers['ratelimit-policy'] = policyField;
      const items = counted.map((r) => `${r.policy.item};r=${integer(r.decision.remaining)};t=${r.t}`);
      if (items.length > 0) headers.ratelimit = items.join(', ');
    }
    const refusing = reports.filter((r) => !r.decision.allowed);
    if (legacy) {
      const bound = constrained(refusing.length > 0 ? refusing : counted, refusing.length > 0);
      if (bound !== undefined) {
        const limit = integer(bound.policy.quota);
        const remaining = integer(bound.decision.remaining);
        headers['ratelimit-limit'] = limit;
        headers['ratelimit-remaining'] = remaining;
        headers['ratelimit-reset'] = String(bound.t);
        headers['x-ratelimit-limit'] = limit;
        headers['x-ratelimit-remaining'] = remaining;
        headers['x-ratelimit-reset'] = String(Math.ceil(nowMs / 1_000 + bound.t));
      }
    }
    if (refusing.length === 0) return { allowed: true, violated: NONE, headers };
    const violated = refusing.map((r) => r.policy.name);
    const wait = Math.max(...refusing.map((r) => r.t));
    const problem = problemResponse('quota_exceeded', 429, 'rate_limit', context, { 'violated-policies': violated });
    Object.assign(headers, { 'retry-after': String(wait) }, problem.headers);
    return { allowed: false, violated, headers, status: 429, body: problem.body };
  };
  return Object.assign(respond, { draft: fast });
}

/** The report the legacy fields describe: the longest wait among refusals, else the least remaining. */
function constrained(reports: readonly Report[], refused: boolean): Report | undefined {
  let pick: Report | undefined;
  for (const r of reports) {
    if (pick === undefined || (refused ? r.t > pick.t : r.decision.remaining < pick.decision.remaining)) pick = r;
  }
  return pick;
}

const LISTS = ['ratelimit-policy', 'ratelimit'] as const;
const LEGACY = [
  'ratelimit-limit',
  'ratelimit-remaining',
  'ratelimit-reset',
  'x-ratelimit-limit',
  'x-ratelimit-remaining',
  'x-ratelimit-reset',
] as const;

// The fields {@link mergeRateLimitFields} reads of `previous`.
export const RATE_LIMIT_FIELDS: readonly string[] = [...LISTS, ...LEGACY];

/**
 * The rate-limit fields of a response two limits (two middlewares) apply to: `previous` as
 * set, `next` from the later responder; each policy listed once. See docs/http.md.
 */
export function mergeRateLimitFields(
  previous: Readonly<Record<string, string | undefined>>,
  next: Readonly<Record<string, string>>,
): Record<string, string> {
  const merged: Record<string, string> = { ...next };
  for (const name of LISTS) {
    const before = previous[name];
    if (before !== undefined && next[name] !== undefined) merged[name] = `${before}, ${next[name]}`;
    else if (before !== undefined) merged[name] = before;
  }
  const before = Number(previous['ratelimit-remaining'] ?? previous['x-ratelimit-remaining']);
  const after = Number(next['ratelimit-remaining'] ?? next['x-ratelimit-remaining']);
  const keepPrevious =
    next['retry-after'] === undefined && (Number.isNaN(after) || (!Number.isNaN(before) && before < after));
  if (keepPrevious) {
    for (const name of LEGACY) {
      const value = previous[name];
      if (value !== undefined) merged[name] = value;
    }
  }
  return merged;
}
