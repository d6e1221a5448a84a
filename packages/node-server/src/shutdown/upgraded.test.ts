import { once } from 'node:events';
import http from 'node:http';
import type { Duplex } from 'node:stream';
import type { EventLogger } from '@resilience/core';
import { FakeClock } from '@resilience/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { deferred, rawClient, type Served, send, serve } from '../testing/http.js';
import { type GracefulShutdown, gracefulShutdown } from './shutdown.js';

let served: Served | undefined;
let handle: GracefulShutdown | undefined;
afterEach(async () => {
  handle?.dispose();
  handle = undefined;
  await served?.close();
  served = undefined;
});

const UPGRADE = 'GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n';
const CONNECT = 'CONNECT db.internal:5432 HTTP/1.1\r\nHost: db.internal:5432\r\n\r\n';
const SWITCHED = 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n';

/**
 * A server whose `/slow` waits for `release`, with the app's own `upgrade` and `connect`
 * listeners (a WebSocket server's, a proxy's) keeping every socket they are handed; a shutdown
 * on a FakeClock, started by `shutdown()`.
 */
async function setup() {
  const release = deferred();
  const slow = deferred();
  served = await serve(async (req, res) => {
    if (req.url === '/slow') {
      slow.resolve();
      await release.promise;
    }
    res.end('ok');
  });
  const server = served.server;
  const sockets: Duplex[] = [];
  server.on('upgrade', (_req, socket: Duplex) => sockets.push(socket) && socket.write(SWITCHED));
  server.on(
    'connect',
    (_req, socket: Duplex) => sockets.push(socket) && socket.write('HTTP/1.1 200 Connection Established\r\n\r\n'),
  );
  const closing = deferred();
  const logs: string[] = [];
  const note = (_fields: object, message: string) => {
    logs.push(message);
    if (/refusing new connections/.test(message)) closing.resolve();
  };
  const logger: EventLogger = { info: note, warn: note, error: note };
  const events: string[] = [];
  const exited = deferred<number>();
  handle = gracefulShutdown(server, {
    signals: [],
    clock: new FakeClock(),
    logger,
    exit: (code) => exited.resolve(code),
    onShutdown: () => void events.push('onShutdown'),
  });
  return {
    server,
    port: served.port,
    sockets,
    release,
    slow,
    closing: closing.promise,
    logs,
    events,
    exited: exited.promise,
  };
}

describe('gracefulShutdown and upgraded connections', () => {
  it.each([
    ['a WebSocket (upgrade)', UPGRADE, '101'],
    ['a CONNECT tunnel', CONNECT, '200 Connection Established'],
  ])(
    'ends %s once the server closes: onShutdown runs and the exit is 0, not 1 at timeoutMs',
    async (_, request, answer) => {
      const { port, sockets, closing, logs, events, exited } = await setup();
      const client = await rawClient(port);
      client.socket.write(request);
      await client.until(answer);
      const code = handle!.shutdown('test');
      await closing;
      // Ended as the server closes: what the app wrote goes out first, then the FIN.
      expect(sockets.map((s) => s.writableEnded)).toEqual([true]);
      await once(client.socket, 'close');
      expect(await code).toBe(0);
      expect(await exited).toBe(0);
      expect(events).toEqual(['onShutdown']);
      expect(logs).toContain(
        'shutdown: refusing new connections; 0 request(s) in flight; ending 1 upgraded connection(s) (WebSockets)',
      );
    },
  );

  it('does not wait for the requests in flight to end a WebSocket, and ends one upgraded later at once', async () => {
    const { port, sockets, release, slow, closing, exited } = await setup();
    const inFlight = send(port, { path: '/slow' });
    await slow.promise;
    // Connected before the close and upgraded after it (the request in flight keeps its connection open).
    const late = await rawClient(port);
    const code = handle!.shutdown('test');
    await closing;
    late.socket.write(UPGRADE);
    await late.until('101');
    expect(sockets.map((s) => s.writableEnded)).toEqual([true]);
    await once(late.socket, 'close');
    expect(handle!.phase).toBe('closing');
    release.resolve();
    expect((await inFlight).text).toBe('ok');
    expect(await code).toBe(0);
    expect(await exited).toBe(0);
  });

  it('answers a request with Upgrade: as a plain request when the app has no upgrade listener (h2c), as Node does', async () => {
    served = await serve((_req, res) => res.end('plain'));
    const server = served.server;
    handle = gracefulShutdown(server, { signals: [], exit: () => {} });
    const h2c = { upgrade: 'h2c', connection: 'Upgrade, HTTP2-Settings', 'http2-settings': 'AAMAAABkAARAAAAAAAIAAAAA' };
    expect((await send(served.port, { headers: h2c })).text).toBe('plain');
    // The app's listener comes and goes (a WebSocket server made, then closed): ours follows it.
    const app = () => {};
    server.on('upgrade', app);
    expect(server.listenerCount('upgrade')).toBe(2);
    server.off('upgrade', app);
    expect(server.listenerCount('upgrade')).toBe(0);
    expect((await send(served.port, { headers: h2c })).text).toBe('plain');
    server.once('connect', app);
    handle.dispose();
    expect([server.listenerCount('upgrade'), server.listenerCount('connect')]).toEqual([0, 1]);
    expect(server.listenerCount('newListener') + server.listenerCount('removeListener')).toBe(0);
  });

  it('leaves none of its listeners when one is refused while it installs them (an app newListener hook that throws)', () => {
    const server = http.createServer();
    const app = () => {};
    server.on('upgrade', app);
    const failure = new Error('no more listeners');
    const hook = (event: string | symbol) => {
      if (event === 'newListener') throw failure; // lets ours for 'upgrade' in, refuses the next
    };
    server.on('newListener', hook);
    expect(() => gracefulShutdown(server, { signals: [], exit: () => {} })).toThrow(failure);
    expect(server.listeners('upgrade')).toEqual([app]);
    expect(server.listeners('newListener')).toEqual([hook]);
    expect(server.listenerCount('removeListener') + server.listenerCount('request')).toBe(0);
  });
});
