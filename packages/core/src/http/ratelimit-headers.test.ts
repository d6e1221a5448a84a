import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../clock/fake-clock.js';
import { ConfigurationError, StoreUnavailableError } from '../errors/errors.js';
import type { RateLimitDecision } from '../ratelimit/algorithm.js';
import { gcra } from '../ratelimit/gcra.js';
import { rateLimiter } from '../ratelimit/limiter.js';
import { tokenBucket } from '../ratelimit/token-bucket.js';
import { fixedWindow } from '../ratelimit/windows.js';
import { memoryStore } from '../store/memory.js';
import { storeOver } from '../testing/store-over.js';
import { PROBLEM_JSON_CONTENT_TYPE, PROBLEM_TYPES } from './problem.js';
import { mergeRateLimitFields, rateLimitResponder } from './ratelimit-headers.js';

// A small RFC 9651 parser for what the fields hold (a List of Items: a String or Token with
// Integer, String or Token parameters), written apart from the serializer under test.
type Bare = number | string;
interface Item {
  value: Bare;
  params: Record<string, Bare>;
}
function parseList(input: string): Item[] {
  let i = 0;
  const fail = (why: string): never => {
    throw new SyntaxError(`${why} at ${i} in ${JSON.stringify(input)}`);
  };
  const ows = () => {
    while (input[i] === ' ' || input[i] === '\t') i++;
  };
  const bare = (): Bare => {
    const c = input[i];
    if (c === '"') {
      let out = '';
      for (i++; i < input.length; i++) {
        const ch = input[i]!;
        if (ch === '\\') {
          const next = input[++i];
          if (next !== '"' && next !== '\\') fail('bad escape');
          out += next;
        } else if (ch === '"') {
          i++;
          return out;
        } else if (ch < ' ' || ch > '~') fail('bad character');
        else out += ch;
      }
      return fail('unterminated string');
    }
    const m = /^-?\d{1,15}/.exec(input.slice(i));
    if (m) {
      i += m[0].length;
      return Number(m[0]);
    }
    const t = /^[A-Za-z*][A-Za-z0-9!#$%&'*+\-.^_`|~:/]*/.exec(input.slice(i));
    if (t) {
      i += t[0].length;
      return t[0];
    }
    return fail('bad item');
  };
  const items: Item[] = [];
  ows();
  while (i < input.length) {
    const item: Item = { value: bare(), params: {} };
    while (input[i] === ';') {
      i++;
      ows();
      const key = /^[a-z*][a-z0-9_\-.*]*/.exec(input.slice(i))?.[0] ?? fail('bad key');
      i += key.length;
      if (input[i] === '=') {
        i++;
        item.params[key] = bare();
      } else item.params[key] = 1;
    }
    items.push(item);
    ows();
    if (i >= input.length) break;
    if (input[i] !== ',') fail('expected a comma');
    i++;
    ows();
    if (i >= input.length) fail('trailing comma');
  }
  return items;
}

const allowed = (limit: number, remaining: number, resetMs: number): RateLimitDecision => ({
  allowed: true,
  limit,
  remaining,
  resetMs,
  retryAfterMs: 0,
});
const denied = (limit: number, resetMs: number, retryAfterMs: number): RateLimitDecision => ({
  allowed: false,
  limit,
  remaining: 0,
  resetMs,
  retryAfterMs,
});

describe('rateLimitResponder', () => {
  it('sends RateLimit-Policy and RateLimit per draft-10 on an allowed request: t is the time until full', async () => {
    const clock = new FakeClock(1_000_000);
    const limiter = rateLimiter({ name: 'api', algorithm: tokenBucket({ capacity: 10, refillPerSecond: 2 }), clock });
    const respond = rateLimitResponder([limiter]);
    const r = respond([await limiter.consume('ip-1')], clock.now());
    expect(r).toEqual({
      allowed: true,
      violated: [],
      headers: { 'ratelimit-policy': '"api";q=10;w=5', ratelimit: '"api";r=9;t=1' },
    });
  });

  it('gives the draft fields of an allowed response apart (respond.draft) for one limit in draft mode, the same values the call gives', () => {
    const clock = new FakeClock(1_000_000);
    const limiter = rateLimiter({ name: 'api', algorithm: fixedWindow({ limit: 3, windowMs: 2_500 }), clock });
    const respond = rateLimitResponder([limiter]);
    const draft = respond.draft!;
    expect(draft.policy).toBe('"api";q=3;w=3');
    for (let i = 0; i < 3; i++) {
      const d = limiter.consumeSync('k');
      expect(draft.ratelimit(d)).toBe(respond([d], clock.now()).headers.ratelimit);
    }
    expect(draft.ratelimit(limiter.consumeSync('k'))).toBe('"api";r=0;t=3'); // never a negative count
    const two = rateLimiter({
      name: 'two',
      algorithm: [fixedWindow({ limit: 1, windowMs: 1_000 }), fixedWindow({ limit: 5, windowMs: 60_000 })],
      clock,
    });
    expect(rateLimitResponder([two]).draft).toBeUndefined();
    expect(rateLimitResponder([limiter], { headers: 'both' }).draft).toBeUndefined();
    expect(rateLimitResponder([limiter, two]).draft).toBeUndefined();
  });

  it('answers a denial with 429, Retry-After equal to t, and a quota-exceeded problem naming the policy', async () => {
    const clock = new FakeClock();
    const limiter = rateLimiter({ name: 'api', algorithm: fixedWindow({ limit: 1, windowMs: 60_000 }), clock });
    const respond = rateLimitResponder([limiter]);
    await limiter.consume('k');
    await clock.advance(1_500);
    const r = respond([await limiter.consume('k')], clock.now(), { correlationId: 'req-9' });
    expect(r.status).toBe(429);
    expect(r.allowed).toBe(false);
    expect(r.headers).toEqual({
      'ratelimit-policy': '"api";q=1;w=60',
      ratelimit: '"api";r=0;t=59',
      'retry-after': '59',
      'content-type': PROBLEM_JSON_CONTENT_TYPE,
      'x-request-id': 'req-9',
    });
    expect(r.body).toEqual({
      type: PROBLEM_TYPES.quota_exceeded,
      title: 'Quota exceeded',
      status: 429,
      category: 'rate_limit',
      'violated-policies': ['api'],
      correlationId: 'req-9',
    });
  });

  it('gives one item per limiter, names only the limits that refused, and waits for the slowest', () => {
    const respond = rateLimitResponder([
      { name: 'per-second', algorithms: [fixedWindow({ limit: 5, windowMs: 1_000 })] },
      { name: 'per-hour', algorithms: [fixedWindow({ limit: 100, windowMs: 3_600_000 })] },
      { name: 'burst', algorithms: [gcra({ limit: 100, periodMs: 60_000, burst: 10 })] },
    ]);
    const r = respond([denied(5, 400, 400), allowed(100, 3, 1_800_000), denied(10, 6_000, 2_500)], 0);
    expect(parseList(r.headers['ratelimit-policy']!)).toEqual([
      { value: 'per-second', params: { q: 5, w: 1 } },
      { value: 'per-hour', params: { q: 100, w: 3_600 } },
      { value: 'burst', params: { q: 10, w: 6 } },
    ]);
    expect(parseList(r.headers.ratelimit!)).toEqual([
      { value: 'per-second', params: { r: 0, t: 1 } },
      { value: 'per-hour', params: { r: 3, t: 1_800 } },
      { value: 'burst', params: { r: 0, t: 3 } },
    ]);
    expect(r.violated).toEqual(['per-second', 'burst']);
    expect(r.headers['retry-after']).toBe('3');
    expect(r.body?.['violated-policies']).toEqual(['per-second', 'burst']);
  });

  it('reports each algorithm of a limiter with several as its own policy, from the decision’s limits', async () => {
    const clock = new FakeClock();
    const limiter = rateLimiter({
      name: 'org',
      algorithm: [fixedWindow({ limit: 2, windowMs: 1_000 }), fixedWindow({ limit: 3, windowMs: 60_000 })],
      clock,
    });
    const respond = rateLimitResponder([limiter]);
    await limiter.consume('o');
    await limiter.consume('o');
    const r = respond([await limiter.consume('o')], clock.now());
    expect(r.headers['ratelimit-policy']).toBe('"org-1";q=2;w=1, "org-2";q=3;w=60');
    expect(r.headers.ratelimit).toBe('"org-1";r=0;t=1, "org-2";r=0;t=60');
    expect(r.violated).toEqual(['org-1']);
  });

  it("adds the older fields with headers: 'legacy' or 'both', from the most constrained limit", () => {
    const limiters = [
      { name: 'a', algorithms: [fixedWindow({ limit: 10, windowMs: 60_000 })] },
      { name: 'b', algorithms: [fixedWindow({ limit: 100, windowMs: 3_600_000 })] },
    ];
    const decisions = [allowed(10, 4, 30_000), allowed(100, 2, 1_200_500)];
    const legacy = rateLimitResponder(limiters, { headers: 'legacy' })(decisions, 1_000_000);
    expect(legacy.headers).toEqual({
      'ratelimit-limit': '100',
      'ratelimit-remaining': '2',
      'ratelimit-reset': '1201',
      'x-ratelimit-limit': '100',
      'x-ratelimit-remaining': '2',
      'x-ratelimit-reset': '2201', // epoch seconds, as GitHub and express-rate-limit send it
    });
    const both = rateLimitResponder(limiters, { headers: 'both' })(decisions, 1_000_000);
    expect(Object.keys(both.headers)).toEqual(['ratelimit-policy', 'ratelimit', ...Object.keys(legacy.headers)]);
    const refused = rateLimitResponder(limiters, { headers: 'legacy' })([denied(10, 20_000, 20_000), decisions[1]!], 0);
    expect(refused.headers).toMatchObject({ 'ratelimit-limit': '10', 'ratelimit-reset': '20', 'retry-after': '20' });
  });

  it("lists a limit its store could not count (onStoreError: 'open') but claims no quota for it, in either field style", async () => {
    const down = () => Promise.reject(new StoreUnavailableError('down'));
    const store = storeOver(memoryStore(), { apply: down, applyAll: down });
    const clock = new FakeClock(0);
    const counted = rateLimiter({ name: 'ip', algorithm: fixedWindow({ limit: 5, windowMs: 60_000 }), clock });
    const uncounted = rateLimiter({ name: 'org', algorithm: fixedWindow({ limit: 50, windowMs: 60_000 }), store });
    const passed = await uncounted.consume('o');
    expect(passed).toMatchObject({ allowed: true, degraded: true, uncounted: true });
    const alone = rateLimitResponder([uncounted])([passed], 0);
    expect(alone.headers).toEqual({ 'ratelimit-policy': '"org";q=50;w=60' }); // no "r=50;t=0": a full quota nobody counted
    expect(alone.allowed).toBe(true);
    const both = rateLimitResponder([counted, uncounted], { headers: 'both' })([await counted.consume('k'), passed], 0);
    expect(both.headers['ratelimit-policy']).toBe('"ip";q=5;w=60, "org";q=50;w=60');
    expect(both.headers.ratelimit).toBe('"ip";r=4;t=60');
    expect(both.headers['ratelimit-remaining']).toBe('4'); // the counted limit's, not the uncounted 50
    const legacyAlone = rateLimitResponder([uncounted], { headers: 'legacy' })([passed], 0);
    expect(legacyAlone.headers).toEqual({});
  });

  it('round-trips names that need escaping and every count, through a structured-field parser', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.stringMatching(/^[ -~]{1,20}$/), { minLength: 1, maxLength: 4 }),
        fc.array(
          fc.record({
            allowed: fc.boolean(),
            limit: fc.integer({ min: 1, max: 1_000_000 }),
            remaining: fc.integer({ min: 0, max: 1_000_000 }),
            resetMs: fc.double({ min: 0, max: 1e9, noNaN: true }),
            retryAfterMs: fc.double({ min: 0, max: 1e9, noNaN: true }),
          }),
          { minLength: 4, maxLength: 4 },
        ),
        (names, decisions) => {
          const respond = rateLimitResponder(
            names.map((name, i) => ({ name, algorithms: [fixedWindow({ limit: 1 + i, windowMs: 1_500 * (i + 1) })] })),
          );
          const r = respond(decisions.slice(0, names.length), 0);
          const policies = parseList(r.headers['ratelimit-policy']!);
          const items = parseList(r.headers.ratelimit!);
          expect(policies.map((p) => p.value)).toEqual(names);
          expect(policies.map((p) => p.params)).toEqual(
            names.map((_, i) => ({ q: 1 + i, w: Math.ceil(1.5 * (i + 1)) })),
          );
          expect(items.map((p) => p.value)).toEqual(names);
          const t = (d: RateLimitDecision) => Math.ceil((d.allowed ? d.resetMs : d.retryAfterMs) / 1_000);
          expect(items.map((p) => p.params)).toEqual(
            names.map((_, i) => ({ r: decisions[i]!.remaining, t: t(decisions[i]!) })),
          );
          const refusing = decisions.slice(0, names.length).filter((d) => !d.allowed);
          if (refusing.length === 0) expect(r.headers['retry-after']).toBeUndefined();
          else expect(Number(r.headers['retry-after'])).toBe(Math.max(...refusing.map(t)));
        },
      ),
    );
  });

  it('rejects limiters whose names cannot be policy names, or are taken twice, naming each', () => {
    const one = [fixedWindow({ limit: 1, windowMs: 1_000 })];
    try {
      rateLimitResponder([
        { name: 'ok', algorithms: one },
        { name: 'ok', algorithms: one },
        { name: 'é', algorithms: one },
        { name: '', algorithms: [] },
      ]);
      throw new Error('no error');
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigurationError);
      expect((error as ConfigurationError).issues.map((i) => i.option)).toEqual([
        'limiters[1].name',
        'limiters[2].name',
        'limiters[3].name',
        'limiters[3].algorithms',
      ]);
    }
    expect(() => rateLimitResponder([], { headers: 'old' as never })).toThrow(/headers/);
    expect(() => rateLimitResponder([{ name: 'a', algorithms: one }], { header: 'draft' } as never)).toThrow(
      /did you mean headers/,
    );
  });

  it('rejects a call with a decision missing for a limiter with a TypeError', () => {
    const respond = rateLimitResponder([{ name: 'a', algorithms: [fixedWindow({ limit: 1, windowMs: 1_000 })] }]);
    expect(() => respond([], 0)).toThrow(TypeError);
    expect(() => respond(null as never, 0)).toThrow(/one decision per limiter/);
  });
});

describe('mergeRateLimitFields', () => {
  it('lists the policies of two middlewares on one response, each once, and keeps the tighter older fields', () => {
    const clock = new FakeClock(0);
    const perIp = rateLimiter({ name: 'ip', algorithm: fixedWindow({ limit: 100, windowMs: 60_000 }), clock });
    const perUser = rateLimiter({ name: 'user', algorithm: fixedWindow({ limit: 10, windowMs: 60_000 }), clock });
    const first = rateLimitResponder([perIp], { headers: 'both' })([perIp.consumeSync('a')], 0).headers;
    const second = rateLimitResponder([perUser], { headers: 'both' })([perUser.consumeSync('u')], 0).headers;
    const merged = mergeRateLimitFields(first, second);
    expect(parseList(merged['ratelimit-policy']!).map((i) => i.value)).toEqual(['ip', 'user']);
    expect(parseList(merged.ratelimit!).map((i) => [i.value, i.params.r])).toEqual([
      ['ip', 99],
      ['user', 9],
    ]);
    expect(merged['ratelimit-remaining']).toBe('9');
    expect(merged['x-ratelimit-limit']).toBe('10');
    // The other way round, the tighter limit still describes the response.
    expect(mergeRateLimitFields(second, first)['ratelimit-remaining']).toBe('9');
    expect(mergeRateLimitFields({}, second)).toEqual(second);
  });

  it('lets a refusal’s fields win over an earlier allowed limit’s older fields', () => {
    const allowed = { 'ratelimit-limit': '5', 'ratelimit-remaining': '0', 'ratelimit-reset': '3' };
    const refused = {
      'ratelimit-limit': '100',
      'ratelimit-remaining': '0',
      'ratelimit-reset': '30',
      'retry-after': '30',
    };
    expect(mergeRateLimitFields(allowed, refused)['ratelimit-reset']).toBe('30');
  });
});

describe('numbers past what a structured-field Integer holds (15 digits)', () => {
  it('are written as the largest one, never in exponent notation', () => {
    const huge = { name: 'huge', algorithms: [{ kind: 'fixedWindow', limit: 1e21, windowMs: 1e25 }] };
    const respond = rateLimitResponder([huge as never], { headers: 'both' });
    const allowed = { allowed: true, limit: 1e21, remaining: 1e20, resetMs: 1e25, retryAfterMs: 0 };
    const r = respond([allowed as never], 0);
    expect(r.headers['ratelimit-policy']).toBe('"huge";q=999999999999999;w=999999999999999');
    expect(r.headers.ratelimit).toBe('"huge";r=999999999999999;t=999999999999999');
    expect(JSON.stringify(r.headers)).not.toMatch(/e\+/);
    const refused = respond([{ ...allowed, allowed: false, remaining: 0, retryAfterMs: 1e25 } as never], 0);
    expect(refused.headers['retry-after']).toBe('999999999999999');
    const draft = rateLimitResponder([huge as never], { headers: 'draft' }).draft!;
    expect([draft.policy, draft.ratelimit(allowed as never)]).toEqual([
      '"huge";q=999999999999999;w=999999999999999',
      '"huge";r=999999999999999;t=999999999999999',
    ]);
  });
});
