import { everyMiddleware } from '@resilience/http-conformance';
import { describe, expect, it } from 'vitest';
import * as adapter from './index.js';

// Koa calls a middleware with (ctx, next). Mounted there, each one of this package says which
// package to import it from at the first request, not a TypeError from inside it.
const middleware = everyMiddleware(adapter);

describe('Express middleware mounted on Koa', () => {
  for (const [name, fn] of Object.entries(middleware)) {
    it(`${name} names @resilience/koa at the first request`, () => {
      const ctx = { method: 'GET', path: '/', url: '/', headers: {}, state: {} };
      const call = fn as unknown as (ctx: unknown, next: () => Promise<void>) => unknown;
      expect(() => call(ctx, async () => {})).toThrow(
        `Invalid ${name} options: framework: received "Koa", expected Express (on Koa: import ${name} from '@resilience/koa')`,
      );
    });
  }
});
