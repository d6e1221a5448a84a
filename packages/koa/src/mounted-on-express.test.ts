import { everyMiddleware } from '@resilience/http-conformance';
import { describe, expect, it } from 'vitest';
import * as adapter from './index.js';

// Express calls a middleware with (req, res, next). Mounted there, each one of this package says
// which package to import it from at the first request, not a TypeError from inside it.
const middleware = everyMiddleware(adapter);

describe('Koa middleware mounted on Express', () => {
  for (const [name, fn] of Object.entries(middleware)) {
    it(`${name} names @resilience/express at the first request`, () => {
      const res = { statusCode: 200, headersSent: false };
      const req = { method: 'GET', path: '/', url: '/', originalUrl: '/', headers: {}, res };
      const call = fn as unknown as (req: unknown, res: unknown, next: () => void) => unknown;
      expect(() => call(req, res, () => {})).toThrow(
        `Invalid ${name} options: framework: received "Express", expected Koa (on Express: import ${name} from '@resilience/express')`,
      );
    });
  }
});
