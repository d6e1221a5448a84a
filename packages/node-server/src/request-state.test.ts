import http from 'node:http';
import { Socket } from 'node:net';
import { classify } from '@resilience/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ClientDisconnectedError } from './errors.js';
import {
  abortRequest,
  claimResponse,
  isIdempotencyRefusal,
  markIdempotencyRefusal,
  requestSignal,
  whenResponseCloses,
} from './request-state.js';
import { deferred, type Served, send, serve } from './testing/http.js';

let served: Served | undefined;
afterEach(async () => {
  vi.restoreAllMocks();
  await served?.close();
  served = undefined;
});

/** Sends a whole POST body, waits until the server has it, then drops the connection. */
async function disconnectAfter(port: number, received: Promise<unknown>): Promise<void> {
  const req = http.request({ host: '127.0.0.1', port, method: 'POST', agent: false });
  req.on('error', () => {});
  req.end('hello');
  await received;
  req.destroy();
}

describe('requestSignal', () => {
  it('aborts when the client disconnects before the response ends', async () => {
    const received = deferred();
    const aborted = deferred<unknown>();
    served = await serve((req, res) => {
      const signal = requestSignal(res);
      signal.addEventListener('abort', () => aborted.resolve(signal.reason));
      req.resume();
      req.on('end', () => received.resolve());
    });
    await disconnectAfter(served.port, received.promise);
    const reason = await aborted.promise;
    expect(reason).toBeInstanceOf(ClientDisconnectedError);
    expect(classify(reason)).toBe('cancelled');
    expect((reason as ClientDisconnectedError).status).toBe(499);
  });

  it('aborts for a request pipelined behind another when their connection closes (Node never closes its response)', async () => {
    const aborted = [deferred<unknown>(), deferred<unknown>()];
    let n = 0;
    const entered = deferred();
    served = await serve((req, res) => {
      const signal = requestSignal(res);
      const mine = aborted[n++]!;
      signal.addEventListener('abort', () => mine.resolve(signal.reason));
      req.resume();
      if (n === 2) entered.resolve();
    });
    const socket = new Socket();
    socket.on('error', () => {});
    socket.connect(served.port, '127.0.0.1');
    socket.write('GET /1 HTTP/1.1\r\nHost: a\r\n\r\nPOST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi');
    await entered.promise;
    socket.destroy();
    const reasons = await Promise.all(aborted.map((a) => a.promise));
    expect(reasons.map((r) => r instanceof ClientDisconnectedError)).toEqual([true, true]);
  });

  it('does not abort when only the request body has ended, nor after the response', async () => {
    const states: string[] = [];
    const closed = deferred();
    served = await serve((req, res) => {
      const signal = requestSignal(res);
      req.on('close', () => {
        // The request's own `close` fires once its body is read, long before the response.
        states.push(`request closed, aborted=${signal.aborted}`);
        res.end('done');
      });
      res.on('close', () => {
        states.push(`response closed, aborted=${signal.aborted}`);
        closed.resolve();
      });
      req.resume();
    });
    const reply = await send(served.port, { method: 'POST', body: 'hello' });
    await closed.promise;
    expect(reply.text).toBe('done');
    expect(states).toEqual(['request closed, aborted=false', 'response closed, aborted=false']);
  });

  it('makes one AbortController, and only for a request that asks for its signal', async () => {
    const made = vi.spyOn(globalThis, 'AbortController');
    served = await serve((req, res) => {
      if (req.url === '/signal') {
        const first = requestSignal(res);
        res.end(String(first === requestSignal(res)));
      } else res.end('plain');
    });
    expect((await send(served.port, { path: '/plain' })).text).toBe('plain');
    expect(made).not.toHaveBeenCalled();
    expect((await send(served.port, { path: '/signal' })).text).toBe('true');
    expect(made).toHaveBeenCalledTimes(1);
  });

  it('aborts with the reason given to abortRequest, before or after the signal was asked for; the first reason wins', async () => {
    const reasons: unknown[] = [];
    served = await serve((req, res) => {
      if (req.url === '/before') {
        abortRequest(res, 'timeout');
        reasons.push(requestSignal(res).reason);
      } else {
        const signal = requestSignal(res);
        abortRequest(res, 'first');
        abortRequest(res, 'second');
        reasons.push(signal.reason);
      }
      res.end();
    });
    await send(served.port, { path: '/before' });
    await send(served.port, { path: '/after' });
    expect(reasons).toEqual(['timeout', 'first']);
  });

  it('hands an already aborted signal to a middleware that asks after the client left', async () => {
    const received = deferred();
    const asked = deferred<AbortSignal>();
    served = await serve((req, res) => {
      req.resume();
      req.on('end', () => received.resolve());
      res.on('close', () => asked.resolve(requestSignal(res)));
    });
    await disconnectAfter(served.port, received.promise);
    const signal = await asked.promise;
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBeInstanceOf(ClientDisconnectedError);
  });
});

const response = () => new http.ServerResponse(new http.IncomingMessage(new Socket()));

/** As Express does to every response before its middleware runs. */
function expressLike(): http.ServerResponse {
  const res = response();
  Object.setPrototypeOf(res, Object.create(http.ServerResponse.prototype));
  return res;
}

/** As Express 4 and 5 leave every response: prototype swapped, `res.locals` made. */
function expressWithLocals(): http.ServerResponse & { locals: Record<PropertyKey, unknown> } {
  return Object.assign(expressLike(), { locals: Object.create(null) as Record<PropertyKey, unknown> });
}

describe('claimResponse', () => {
  it.each([
    ['a plain response', response],
    ["one whose prototype was swapped (Express's)", expressLike],
    ["one with Express's res.locals", expressWithLocals],
  ])('is true once per owner and response on %s: the same owner again is refused, any other is not', (_, make) => {
    const [a, b, c] = [{}, {}, {}];
    const [res, other] = [make(), make()];
    expect([a, b, a, c, b, c, a].map((owner) => claimResponse(res, owner))).toEqual([
      true,
      true,
      false,
      true,
      false,
      false,
      false,
    ]);
    expect(claimResponse(other, a)).toBe(true);
  });

  it('adds no property to a response whose prototype was swapped (there it would copy its hidden class)', () => {
    const res = expressLike();
    const before = Reflect.ownKeys(res);
    claimResponse(res, {});
    abortRequest(res, new Error('stop'));
    expect(requestSignal(res).aborted).toBe(true);
    expect(Reflect.ownKeys(res)).toEqual(before);
  });

  it("keeps an Express response's state in res.locals, through a copy of res.locals by spread", () => {
    const res = expressWithLocals();
    const before = Reflect.ownKeys(res);
    const owner = {};
    expect(claimResponse(res, owner)).toBe(true);
    expect(Reflect.ownKeys(res)).toEqual(before);
    expect(Object.keys(res.locals)).toEqual([]);
    res.locals = { ...res.locals, user: 'ada' };
    expect(claimResponse(res, owner)).toBe(false);
  });

  it('runs what waits for the close, and aborts the signal, even after res.locals was replaced wholesale', () => {
    const res = expressWithLocals();
    const signal = requestSignal(res);
    const run = vi.fn();
    whenResponseCloses(res, run);
    res.locals = Object.create(null);
    res.emit('close');
    expect(run).toHaveBeenCalledTimes(1);
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBeInstanceOf(ClientDisconnectedError);
  });
});

describe('markIdempotencyRefusal', () => {
  it.each([
    ['a plain response', response],
    ["one with Express's res.locals", expressWithLocals],
  ])('marks that response only, on %s; asking makes no state', (_, make) => {
    const [res, other] = [make(), make()];
    expect(isIdempotencyRefusal(res)).toBe(false);
    const before = Reflect.ownKeys(res);
    expect(isIdempotencyRefusal(res)).toBe(false);
    expect(Reflect.ownKeys(res)).toEqual(before);
    markIdempotencyRefusal(res);
    expect([isIdempotencyRefusal(res), isIdempotencyRefusal(other)]).toEqual([true, false]);
  });
});
