import Koa from 'koa';
import { describe, expect, it } from 'vitest';
import { adminRoutes, gracefulShutdown } from './index.js';

// What a newcomer writes first, and what the error says to write instead.
describe('misuse said with its fix', () => {
  it('gracefulShutdown given the app, not the server app.listen() returns', () => {
    expect(() => gracefulShutdown(new Koa() as never, { signals: [] })).toThrow(
      /server: received .*, expected the Server app.listen\(\) returns, not the app \(const server = app.listen\(port\)\)/,
    );
  });

  it('adminRoutes without authorize says what authorize is', () => {
    expect(() => adminRoutes({} as never)).toThrow(
      'authorize: received undefined, expected a function (request) => true to allow it, false to refuse it: the admin routes have no default access',
    );
  });
});
