import { gzipSync } from 'node:zlib';
import { metrics, PROBLEM_TYPES, recentErrors } from '@resilience/core';
import { expect } from 'vitest';
import { problemOf, type Scenario } from '../scenario.js';

/** Request bodies that do not decode from the coding they name: not compressed at all, or cut short. */
const UNDECODABLE: ReadonlyArray<readonly [coding: string, body: Uint8Array]> = [
  ['gzip', Buffer.from('{"qty":1}')],
  ['deflate', Buffer.from('{"qty":1}')],
  ['br', Buffer.from('{"qty":1}')],
  ['gzip', gzipSync('{"qty":1}').subarray(0, 12)],
];

export const requestBodyErrorScenarios: Scenario[] = [
  {
    area: 'errorHandler',
    name: "a request body that does not decode from its Content-Encoding, met by the framework's own parser, is the client's 400, with a key as without: never a dependency's 502, logged or recorded",
    async run(t) {
      const logger = t.logger();
      const collector = metrics();
      const errors = recentErrors({ max: 10 });
      const handled = { runs: 0 };
      const app = await t.serve([
        t.m.errorHandler({ logger, collector, recentErrors: errors }),
        t.m.idempotency(),
        t.m.route('POST', '/orders', () => ({ status: 201, json: { runs: ++handled.runs } }), { parser: 'json' }),
      ]);
      for (const [i, [coding, body]] of UNDECODABLE.entries()) {
        // With a key and without, the framework's JSON parser reads the body (idempotency's reader puts it back).
        for (const key of [undefined, `"k${i}"`]) {
          const headers: Record<string, string> = { 'content-type': 'application/json', 'content-encoding': coding };
          if (key !== undefined) headers['idempotency-key'] = key;
          const res = await app.fetch('/orders', { method: 'POST', headers, body });
          // Express 4's body-parser (1.x) decodes no brotli: it refuses the coding (415) unread.
          if (coding === 'br' && t.m.name === 'express 4') {
            expect(res.status).toBe(415);
            continue;
          }
          expect([coding, key, res.status]).toEqual([coding, key, 400]);
          expect(await problemOf(res)).toMatchObject({
            type: PROBLEM_TYPES.validation,
            status: 400,
            category: 'validation',
            detail: 'The request body does not match its Content-Encoding',
          });
        }
      }
      expect(handled.runs).toBe(0);
      expect(logger.lines.filter((l) => l.level === 'error')).toEqual([]);
      expect(errors.list()).toEqual([]);
      expect(collector.snapshot().errorsByCategory.dependency).toBe(0);
      // The same error thrown by a handler for a body that was not compressed is an upstream's
      // body that does not decompress: a dependency's 502, as before.
      const upstream = await t.serve([
        t.m.errorHandler({ logger: t.logger() }),
        t.m.route(
          'POST',
          '/proxy',
          () => {
            throw Object.assign(new Error('incorrect header check'), { errno: -3, code: 'Z_DATA_ERROR' });
          },
          { parser: 'json' },
        ),
      ]);
      const res = await upstream.fetch('/proxy', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      expect(res.status).toBe(502);
      expect(await problemOf(res)).toMatchObject({ type: PROBLEM_TYPES.dependency, category: 'dependency' });
    },
  },
];
