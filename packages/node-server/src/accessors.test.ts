import http from 'node:http';
import { Socket } from 'node:net';
import { describe, expect, it, vi } from 'vitest';
import { fieldOf, headersOf, isClosed, isEnded, isFinished, isHeadersSent, onClose, setField } from './accessors.js';

/** As Express leaves every request and response: prototype swapped for one of its own. */
function expressLike() {
  const req = new http.IncomingMessage(new Socket());
  req.headers = { 'x-forwarded-for': '203.0.113.7' };
  const res = new http.ServerResponse(req);
  Object.setPrototypeOf(req, Object.create(http.IncomingMessage.prototype));
  Object.setPrototypeOf(res, Object.create(http.ServerResponse.prototype));
  return { req, res };
}

describe('accessors', () => {
  it('read and write an Express-like request and response as their own properties and methods would', () => {
    const { req, res } = expressLike();
    expect(headersOf(req)).toEqual({ 'x-forwarded-for': '203.0.113.7' });
    setField(res, 'RateLimit', '"default";r=4;t=60');
    expect(fieldOf(res, 'ratelimit')).toBe('"default";r=4;t=60');
    expect(res.getHeader('ratelimit')).toBe('"default";r=4;t=60');
    expect(() => setField(res, 'bad name', 'x')).toThrow(TypeError);
    expect([isClosed(res), isFinished(res), isEnded(res), isHeadersSent(res)]).toEqual([false, false, false, false]);
    const closed = vi.fn();
    onClose(res, closed);
    res.emit('close');
    expect(closed).toHaveBeenCalledTimes(1);
  });

  it('read an object that is not a Node message (an HTTP/2 compatibility response, a test double) the ordinary way', () => {
    const fields = new Map<string, unknown>();
    const double = {
      headers: { a: '1' },
      closed: true,
      writableFinished: true,
      writableEnded: true,
      headersSent: true,
      setHeader: (name: string, value: unknown) => fields.set(name, value),
      getHeader: (name: string) => fields.get(name),
      on: vi.fn(),
    } as unknown as http.ServerResponse & http.IncomingMessage;
    expect(headersOf(double)).toEqual({ a: '1' });
    expect([isClosed(double), isFinished(double), isEnded(double), isHeadersSent(double)]).toEqual([
      true,
      true,
      true,
      true,
    ]);
    setField(double, 'ratelimit', 'x');
    expect(fieldOf(double, 'ratelimit')).toBe('x');
    const listener = () => {};
    onClose(double, listener);
    expect(double.on).toHaveBeenCalledWith('close', listener);
  });
});
