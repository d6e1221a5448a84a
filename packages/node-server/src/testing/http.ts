// Test helpers: real servers on 127.0.0.1 and real requests through node:http.
import { once } from 'node:events';
import http from 'node:http';
import http2 from 'node:http2';
import { type AddressInfo, connect, type Socket } from 'node:net';

export interface Served {
  readonly server: http.Server;
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

/** Starts a server on 127.0.0.1 on a free port. */
export async function serve(handler: http.RequestListener): Promise<Served> {
  const server = http.createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    server,
    port,
    url: `http://127.0.0.1:${port}`,
    async close() {
      server.closeAllConnections();
      if (server.listening) await new Promise((resolve) => server.close(resolve));
    },
  };
}

export interface Reply {
  readonly status: number;
  readonly statusMessage: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
  readonly text: string;
}

export interface SendOptions {
  method?: string;
  path?: string;
  headers?: http.OutgoingHttpHeaders;
  body?: string | Buffer;
  agent?: http.Agent;
}

/** One request; resolves with the whole response. */
export function send(port: number, options: SendOptions = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method: options.method ?? 'GET',
        path: options.path ?? '/',
        headers: options.headers,
        agent: options.agent ?? false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          resolve({
            status: res.statusCode ?? 0,
            statusMessage: res.statusMessage ?? '',
            headers: res.headers,
            body,
            text: body.toString('utf8'),
          });
        });
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/** A promise and the functions that settle it. */
export function deferred<T = void>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A raw HTTP/1.1 connection: bytes written as given, everything read kept as text. */
export interface RawClient {
  readonly socket: Socket;
  /** All bytes read so far, as latin1 text. */
  text(): string;
  /** Resolves once the text read so far contains `part` `times` times; rejects if the connection closes first. */
  until(part: string, times?: number): Promise<void>;
}

/** Opens a raw connection to 127.0.0.1:`port`. */
export async function rawClient(port: number): Promise<RawClient> {
  const socket = connect(port, '127.0.0.1');
  let text = '';
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => {
    text += chunk;
  });
  socket.on('error', () => {});
  await once(socket, 'connect');
  const count = (part: string) => text.split(part).length - 1;
  return {
    socket,
    text: () => text,
    until: (part, times = 1) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (count(part) < times) return;
          socket.off('data', check).off('close', closed);
          resolve();
        };
        const closed = () => {
          socket.off('data', check);
          if (count(part) >= times) resolve();
          else reject(new Error(`the connection closed before ${JSON.stringify(part)} came: ${text}`));
        };
        socket.on('data', check).once('close', closed);
        check();
      }),
  };
}

/**
 * Listens `server` (an h2c one) on 127.0.0.1 and connects a client session to it; `close`
 * ends the session, then the server.
 */
export async function h2Session(
  server: http2.Http2Server,
): Promise<{ client: http2.ClientHttp2Session; close(): Promise<void> }> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const client = http2.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  return {
    client,
    async close() {
      client.close();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
