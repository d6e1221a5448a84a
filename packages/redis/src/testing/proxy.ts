/**
 * A TCP proxy on 127.0.0.1 between a client and a redis-server, for the fault tests: it
 * passes bytes both ways until `dropNextReply()`, which lets the next bytes the server sends
 * reach no one and closes that connection on both sides: the command ran, and its answer is
 * lost with the connection (the client connects again through the proxy).
 */
import { createServer, Socket } from 'node:net';

export interface TcpProxy {
  readonly port: number;
  /** Resolves once the server's next reply has been dropped and its connection closed. */
  dropNextReply(): Promise<void>;
  /** Sends new connections to the server on `port` (open ones stay), as a DNS name moved to a promoted replica. */
  retarget(port: number): void;
  close(): Promise<void>;
}

export async function startProxy(target: number): Promise<TcpProxy> {
  const open = new Set<Socket>();
  let to = target;
  let drop: (() => void) | undefined;
  const server = createServer((client) => {
    const upstream = new Socket();
    const end = () => {
      for (const s of [client, upstream]) {
        open.delete(s);
        s.destroy();
      }
    };
    for (const s of [client, upstream]) {
      open.add(s);
      s.on('error', end).on('close', end);
    }
    client.on('data', (chunk: Buffer) => upstream.write(chunk));
    upstream.on('data', (chunk: Buffer) => {
      const dropped = drop;
      if (dropped === undefined) client.write(chunk);
      else {
        drop = undefined;
        end();
        dropped();
      }
    });
    upstream.connect(to, '127.0.0.1');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    dropNextReply: () =>
      new Promise<void>((resolve) => {
        drop = resolve;
      }),
    retarget: (port) => {
      to = port;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of open) s.destroy();
        server.close(() => resolve());
      }),
  };
}
