// A real tRPC HTTP server on 127.0.0.1 (port 0), for tests.
import type { AddressInfo } from 'node:net';
import type { AnyTRPCRouter } from '@trpc/server';
import { type CreateHTTPHandlerOptions, createHTTPServer } from '@trpc/server/adapters/standalone';

export interface TestServer {
  readonly url: string;
  close(): Promise<void>;
}

export async function startServer<R extends AnyTRPCRouter>(options: CreateHTTPHandlerOptions<R>): Promise<TestServer> {
  const server = createHTTPServer(options);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
