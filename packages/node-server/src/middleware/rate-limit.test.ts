import type { IncomingMessage } from 'node:http';
import { fixedWindow } from '@resilience/core';
import { FakeClock } from '@resilience/core/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type Served, send, serve } from '../testing/http.js';
import { type RateLimitPort, rateLimitCheck } from './rate-limit.js';

let served: Served | undefined;
afterEach(async () => {
  await served?.close();
  served = undefined;
});

const quiet = { info() {}, warn() {}, error() {} };
const port = (trust: RateLimitPort<IncomingMessage>['trust']): RateLimitPort<IncomingMessage> => ({
  framework: 'express',
  request: (req) => req,
  ip: (req) => req.socket.remoteAddress,
  trust,
  field: () => 'X-Forwarded-For',
});

describe('rateLimitCheck', () => {
  it("asks for the app's proxy trust only when a request carries X-Forwarded-For or Forwarded", async () => {
    const trust = vi.fn(() => 'none' as const);
    const warn = vi.fn();
    const check = rateLimitCheck(
      { algorithm: fixedWindow({ limit: 100, windowMs: 60_000 }), clock: new FakeClock(), logger: { ...quiet, warn } },
      port(trust),
    );
    served = await serve((req, res) => {
      check(req, res);
      res.end();
    });
    await send(served.port);
    await send(served.port);
    expect(trust).not.toHaveBeenCalled();
    await send(served.port, { headers: { forwarded: 'for=192.0.2.60' } });
    expect(trust).toHaveBeenCalledTimes(1);
    expect(warn).toHaveBeenCalledWith({ policy: 'default' }, expect.stringMatching(/arrive with Forwarded/));
  });

  it('counts a response once per middleware: the same one reached twice counts once, another counts again', async () => {
    const clock = new FakeClock();
    const options = { algorithm: fixedWindow({ limit: 100, windowMs: 60_000 }), clock, logger: quiet };
    const a = rateLimitCheck(
      { ...options, name: 'a' },
      port(() => 'none'),
    );
    const b = rateLimitCheck(
      { ...options, name: 'b' },
      port(() => 'none'),
    );
    const c = rateLimitCheck(
      { ...options, name: 'c' },
      port(() => 'none'),
    );
    served = await serve((req, res) => {
      for (const check of [a, b, a, c, b, c, a]) check(req, res);
      res.end();
    });
    const reply = await send(served.port);
    expect(reply.headers.ratelimit).toBe('"a";r=99;t=60, "b";r=99;t=60, "c";r=99;t=60');
    expect(reply.headers['ratelimit-policy']).toBe('"a";q=100;w=60, "b";q=100;w=60, "c";q=100;w=60');
  });

  it('refuses a limit below the default cost of 1, which would fail every request, saying the default applied', () => {
    const algorithm = fixedWindow({ limit: 0.5, windowMs: 60_000 });
    expect(() =>
      rateLimitCheck(
        { algorithm },
        port(() => 'none'),
      ),
    ).toThrow(
      'Invalid rateLimit options: cost: received undefined, expected a number >= 0 and <= 0.5, the most the limit ever admits (1, the default, is not)',
    );
    expect(() =>
      rateLimitCheck(
        { algorithm, cost: 0.5 },
        port(() => 'none'),
      ),
    ).not.toThrow();
  });

  it('names a policy name that cannot go into RateLimit-Policy (not printable ASCII) as its name option, with the others', () => {
    const algorithm = fixedWindow({ limit: 5, windowMs: 60_000 });
    expect(() =>
      rateLimitCheck(
        { algorithm, name: 'api\r\nx', skip: 3 } as never,
        port(() => 'none'),
      ),
    ).toThrow(
      'Invalid rateLimit options: skip: received 3, expected a function; name: received "api\\r\\nx", expected a non-empty name of printable ASCII, not used by another limit',
    );
  });

  it('names a cost above the limit with the other bad options, in one error', () => {
    const algorithm = fixedWindow({ limit: 5, windowMs: 60_000 });
    expect(() =>
      rateLimitCheck(
        { algorithm, cost: 10, skip: 3 } as never,
        port(() => 'none'),
      ),
    ).toThrow(
      'Invalid rateLimit options: skip: received 3, expected a function; cost: received 10, expected a number >= 0 and <= 5, the most the limit ever admits',
    );
  });

  const OWN_ANSWER = 'none: a 429 with a problem+json body; for your own, rateLimiter() and rateLimitResponder()';
  it.each([
    ['message', 'Too many requests', OWN_ANSWER],
    ['handler', () => {}, OWN_ANSWER],
    ['statusCode', 429, OWN_ANSWER],
    ['errorMessage', 'Slow down', OWN_ANSWER],
    ['disableHeader', true, 'none: the draft-10 fields are always set; headers picks which'],
    ['throw', true, 'none: the 429 is answered, never thrown'],
    ['blacklist', () => false, 'none: refuse those requests in a middleware before it'],
    ['onLimited', () => {}, "onHttpDecision() from core, decision 'rate_limited'"],
    ['status', 503, OWN_ANSWER],
    ['namespace', 'api', 'name, which namespaces the store keys'],
    ['whitelist', () => false, 'skip'],
    ['skipFailedRequests', true, 'none: a request counts on arrival, whatever its answer'],
    ['skipSuccessfulRequests', true, 'none: a request counts on arrival, whatever its answer'],
    ['requestWasSuccessful', () => true, 'none: a request counts on arrival, whatever its answer'],
    ['validate', false, 'logger, warned of each misconfiguration'],
    ['requestPropertyName', 'rateLimit', 'none: read the RateLimit header'],
    ['ipv6Subnet', 64, 'key: clientIpKey(ip, { ipv6PrefixLength })'],
  ])("points express-rate-limit's and koa-ratelimit's %s to what takes its place", (option, value, hint) => {
    const algorithm = fixedWindow({ limit: 5, windowMs: 60_000 });
    let error: { issues: { option: string; allowed: string }[] } | undefined;
    try {
      rateLimitCheck(
        { algorithm, [option]: value } as never,
        port(() => 'none'),
      );
    } catch (e) {
      error = e as typeof error;
    }
    // Named once, with its hint, and the other options still checked.
    expect(error?.issues).toEqual([
      { option, received: value, allowed: `a known option (another library's? here: ${hint})` },
    ]);
  });

  // express-rate-limit's README: standardHeaders 'draft-8' with legacyHeaders false, which is our default,
  // not 'both' (that adds the X-RateLimit-* fields they turned off). Defaults: standardHeaders off, legacyHeaders on.
  it.each([
    [{ standardHeaders: 'draft-8', legacyHeaders: false }, "headers: 'draft'"],
    [{ standardHeaders: 'draft-8' }, "headers: 'both'"],
    [{ legacyHeaders: true }, "headers: 'legacy'"],
    [{ standardHeaders: true, legacyHeaders: false }, "headers: 'legacy'"],
    [{ standardHeaders: 'draft-7', legacyHeaders: false }, "headers: 'draft'"],
  ])("points express-rate-limit's header options %j to the headers mode that sends the same fields", (given, hint) => {
    const algorithm = fixedWindow({ limit: 5, windowMs: 60_000 });
    let error: { issues: { option: string; allowed: string }[] } | undefined;
    try {
      rateLimitCheck(
        { algorithm, ...given } as never,
        port(() => 'none'),
      );
    } catch (e) {
      error = e as typeof error;
    }
    expect(error?.issues.map((i) => [i.option, i.allowed])).toEqual(
      Object.keys(given).map((option) => [option, `a known option (another library's? here: ${hint})`]),
    );
  });

  it("tells koa-ratelimit's headers object that the field names are fixed", () => {
    expect(() =>
      rateLimitCheck(
        {
          algorithm: fixedWindow({ limit: 5, windowMs: 60_000 }),
          headers: { remaining: 'Rate-Limit-Remaining' },
        } as never,
        port(() => 'none'),
      ),
    ).toThrow(
      /headers: received .*, expected one of "draft", "legacy", "both" \(koa-ratelimit's field names\? here fixed: 'legacy'\)$/,
    );
  });

  it("names their answer options with ours that are bad, in one error, and leaves core's hints to core", () => {
    expect(() =>
      rateLimitCheck(
        { max: 5, windowMs: 60_000, statusCode: 429 } as never,
        port(() => 'none'),
      ),
    ).toThrow(
      /^Invalid rateLimit options: statusCode: received 429, expected a known option \(another library's\? here: none: .*; max: received 5, expected a known option \(another library's\? here: algorithm: fixedWindow\(\{ limit, windowMs \}\)\): algorithm,/,
    );
  });
});
