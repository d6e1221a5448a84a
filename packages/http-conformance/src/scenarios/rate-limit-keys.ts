import { fixedWindow, rateLimiter } from '@resilience/core';
import { FakeClock } from '@resilience/core/testing';
import { expect } from 'vitest';
import { abandonedRequest, deferred } from '../context.js';
import type { Scenario } from '../scenario.js';

const ok = () => ({ json: { ok: true } });

// What a `key` function answers for a request that has no key of its own, and the key of a
// request whose client address is gone. express-rate-limit and rate-limiter-flexible count
// an empty key as one key shared by every such request: one client without the header spends
// the quota of all of them.
export const rateLimitKeyScenarios: Scenario[] = [
  {
    area: 'rateLimit',
    name: "a key function answering '' (no API key sent) limits the request by its client address, never one quota shared by every such request",
    async run(t) {
      const clock = new FakeClock(0);
      const app = await t.serve(
        [
          t.m.rateLimit({
            algorithm: fixedWindow({ limit: 1, windowMs: 60_000 }),
            key: (c) => t.m.header(c, 'x-api-key') ?? '',
            clock,
          }),
          t.m.route('GET', '/', ok),
        ],
        { trustProxy: 1 },
      );
      const from = (ip: string, headers: Record<string, string> = {}) =>
        app.fetch('/', { headers: { 'x-forwarded-for': ip, ...headers } });
      expect((await from('203.0.113.1')).status).toBe(200);
      expect((await from('203.0.113.1')).status).toBe(429);
      // Another anonymous client still has its quota; an API key has its own.
      expect((await from('203.0.113.2')).status).toBe(200);
      expect((await from('203.0.113.1', { 'x-api-key': 'k1' })).status).toBe(200);
      expect((await from('203.0.113.1', { 'x-api-key': 'k1' })).status).toBe(429);
    },
  },
  {
    area: 'rateLimit',
    name: 'a key function answering no string (undefined, null, a number, an object) fails the request with a 500 naming the key, taking nothing',
    async run(t) {
      const clock = new FakeClock(0);
      const logger = t.logger();
      const keys: Record<string, unknown> = { missing: undefined, null: null, number: 42, object: { id: 1 } };
      const limiter = rateLimiter({ name: 'keys', algorithm: fixedWindow({ limit: 5, windowMs: 60_000 }), clock });
      const app = await t.serve([
        t.m.errorHandler({ logger }),
        t.m.rateLimit({ limiter, key: (c) => keys[t.m.header(c, 'x-kind') ?? ''] as string }),
        t.m.route('GET', '/', ok),
      ]);
      for (const kind of Object.keys(keys)) {
        expect([kind, (await app.fetch('/', { headers: { 'x-kind': kind } })).status]).toEqual([kind, 500]);
      }
      expect(logger.lines.map((l) => l.message)).toEqual(
        ['undefined', 'null', 'number', 'object'].map((kind) =>
          expect.stringMatching(new RegExp(`rate limit key: expected a string .*received ${kind}`)),
        ),
      );
      expect((await limiter.peek('')).remaining).toBe(5);
    },
  },
  {
    area: 'rateLimit',
    name: 'a key of 16 KB (a header filled to the limit) is its own quota: a key sharing its first 64 characters is another',
    async run(t) {
      const clock = new FakeClock(0);
      const app = await t.serve([
        t.m.rateLimit({
          algorithm: fixedWindow({ limit: 1, windowMs: 60_000 }),
          key: (c) => t.m.header(c, 'x-api-key') ?? '',
          clock,
        }),
        t.m.route('GET', '/', ok),
      ]);
      const as = (tail: string) => app.fetch('/', { headers: { 'x-api-key': `${'k'.repeat(16_000)}${tail}` } });
      expect([(await as('a')).status, (await as('a')).status, (await as('b')).status]).toEqual([200, 429, 200]);
    },
  },
  {
    area: 'rateLimit',
    name: "a request whose client left before the limit read its address is counted under a key of its own (''), not a client's",
    async run(t) {
      const clock = new FakeClock(0);
      const limiter = rateLimiter({ algorithm: fixedWindow({ limit: 5, windowMs: 60_000 }), clock });
      const entered = deferred();
      const left = deferred();
      const ran = deferred();
      const app = await t.serve([
        t.m.rateLimit({
          limiter,
          // Waits, as an authentication step before the limit would, until the client has left.
          skip: async () => {
            entered.resolve();
            await left.promise;
            return false;
          },
        }),
        t.m.route('GET', '/', () => {
          ran.resolve();
          return ok();
        }),
      ]);
      await abandonedRequest(app.port, { path: '/' }, entered.promise);
      // The server sees the close (the socket's address is gone) before the skip answers.
      await new Promise((resolve) => setImmediate(resolve));
      left.resolve();
      await ran.promise;
      expect((await limiter.peek('')).remaining).toBe(4);
      expect((await limiter.peek('127.0.0.1')).remaining).toBe(5);
    },
  },
];
